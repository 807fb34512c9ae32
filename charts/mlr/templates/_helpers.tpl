{{/*
Names and labels.
*/}}
{{- define "mlr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mlr.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's objects; the service name must survive truncation, so the prefix gives way. */}}
{{- define "mlr.componentName" -}}
{{- $prefix := include "mlr.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-" -}}
{{- printf "%s-%s" $prefix .component -}}
{{- end -}}

{{- define "mlr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "mlr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlr
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component: call with (dict "root" $ "component" "<name>"). */}}
{{- define "mlr.componentLabels" -}}
{{ include "mlr.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mlr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlr.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mlr.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "mlr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mlr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret the chart creates for credentials given inline in the values. */}}
{{- define "mlr.credentialsSecretName" -}}
{{- printf "%s-credentials" (include "mlr.fullname" .) -}}
{{- end -}}

{{/*
What each service's configuration needs (apps/<service>/src/config.ts); the chart sets only these.
*/}}
{{- define "mlr.serviceNeeds" -}}
licensing: { database: true, s3: false }
scheduling: { database: true, s3: false }
indexing: { database: true, s3: false }
storage: { database: true, s3: true }
gateway: { database: false, s3: false }
{{- end -}}

{{/* Services in a fixed order, so that the rendered output is stable. */}}
{{- define "mlr.serviceOrder" -}}
[licensing, scheduling, indexing, storage, gateway]
{{- end -}}

{{/* "true" when an enabled service (or the migrations) needs the database. */}}
{{- define "mlr.needsDatabase" -}}
{{- $needs := include "mlr.serviceNeeds" . | fromYaml -}}
{{- $result := .Values.migrations.enabled -}}
{{- range $name, $service := .Values.services -}}
{{- if and $service.enabled (get (get $needs $name) "database") -}}{{- $result = true -}}{{- end -}}
{{- end -}}
{{- if $result -}}true{{- end -}}
{{- end -}}

{{/* Inline credentials the chart has to put into its own Secret, as a map of key to value. */}}
{{- define "mlr.inlineCredentials" -}}
{{- $values := .Values -}}
{{- if and $values.nats.auth.enabled (not $values.nats.auth.existingSecret) }}
NATS_USER: {{ $values.nats.auth.user | quote }}
NATS_PASSWORD: {{ $values.nats.auth.password | quote }}
{{- end }}
{{- if and (include "mlr.needsDatabase" .) (not $values.database.existingSecret) }}
DATABASE_URL: {{ $values.database.url | quote }}
{{- end }}
{{- if and $values.services.storage.enabled (not $values.s3.existingSecret) }}
S3_ACCESS_KEY: {{ $values.s3.accessKey | quote }}
S3_SECRET_KEY: {{ $values.s3.secretKey | quote }}
{{- end }}
{{- end -}}

{{/*
Combinations the schema cannot express, with messages that say what to set.
*/}}
{{- define "mlr.validate" -}}
{{- $values := .Values -}}
{{- if and $values.nats.auth.enabled (not $values.nats.auth.existingSecret) (or (not $values.nats.auth.user) (not $values.nats.auth.password)) -}}
{{- fail "nats.auth: set nats.auth.existingSecret (a Secret with NATS_USER and NATS_PASSWORD) or both nats.auth.user and nats.auth.password, or nats.auth.enabled=false" -}}
{{- end -}}
{{- if and (include "mlr.needsDatabase" .) (not $values.database.existingSecret) (not $values.database.url) -}}
{{- fail "database: set database.existingSecret (a Secret with the key database.urlKey holding a postgresql:// URL) or database.url" -}}
{{- end -}}
{{- if and $values.services.storage.enabled (not $values.s3.existingSecret) (or (not $values.s3.accessKey) (not $values.s3.secretKey)) -}}
{{- fail "s3: set s3.existingSecret (a Secret with the keys s3.accessKeyKey and s3.secretKeyKey) or both s3.accessKey and s3.secretKey" -}}
{{- end -}}
{{- if $values.services.gateway.enabled -}}
{{- $keySources := 0 -}}
{{- if $values.auth.jwksUrl }}{{ $keySources = add1 $keySources }}{{ end -}}
{{- if $values.auth.publicKey }}{{ $keySources = add1 $keySources }}{{ end -}}
{{- if gt $keySources 1 -}}
{{- fail "auth: set only one of auth.jwksUrl and auth.publicKey (or neither, to read the key from auth.existingSecret)" -}}
{{- end -}}
{{- if and (eq $keySources 0) (not $values.auth.existingSecret) -}}
{{- fail "auth: the gateway needs the token issuer's public key: set auth.jwksUrl, auth.publicKey (PEM or JWKS), or auth.existingSecret (a Secret with the key auth.publicKeyKey)" -}}
{{- end -}}
{{- if and (not $values.auth.issuer) (not $values.auth.existingSecret) -}}
{{- fail "auth: set auth.issuer (the iss of the tokens the gateway accepts) or auth.existingSecret with the key auth.issuerKey" -}}
{{- end -}}
{{- end -}}
{{- if and $values.ingress.enabled (not $values.services.gateway.enabled) -}}
{{- fail "ingress.enabled needs services.gateway.enabled: the ingress exposes the gateway" -}}
{{- end -}}
{{- if and $values.ingress.enabled (not $values.ingress.hosts) -}}
{{- fail "ingress.enabled needs at least one entry in ingress.hosts" -}}
{{- end -}}
{{- range $name, $service := $values.services -}}
{{- if and $service.autoscaling.enabled (gt (int $service.autoscaling.minReplicas) (int $service.autoscaling.maxReplicas)) -}}
{{- fail (printf "services.%s.autoscaling: minReplicas (%d) is above maxReplicas (%d)" $name (int $service.autoscaling.minReplicas) (int $service.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A secretKeyRef env entry: (dict "name" ENV "secret" SECRET "key" KEY). */}}
{{- define "mlr.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/* Environment of one service container: (dict "root" $ "component" NAME "service" VALUES). */}}
{{- define "mlr.serviceEnv" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $needs := get (include "mlr.serviceNeeds" $root | fromYaml) .component -}}
{{- $credentials := include "mlr.credentialsSecretName" $root -}}
- name: INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: HTTP_HOST
  value: "0.0.0.0"
- name: HTTP_PORT
  value: "8080"
- name: LOG_LEVEL
  value: {{ $values.logLevel | quote }}
- name: NATS_URL
  value: {{ $values.nats.url | quote }}
{{- if $values.nats.auth.enabled }}
{{- if $values.nats.auth.existingSecret }}
{{ include "mlr.secretEnv" (dict "name" "NATS_USER" "secret" $values.nats.auth.existingSecret "key" $values.nats.auth.userKey) }}
{{ include "mlr.secretEnv" (dict "name" "NATS_PASSWORD" "secret" $values.nats.auth.existingSecret "key" $values.nats.auth.passwordKey) }}
{{- else }}
{{ include "mlr.secretEnv" (dict "name" "NATS_USER" "secret" $credentials "key" "NATS_USER") }}
{{ include "mlr.secretEnv" (dict "name" "NATS_PASSWORD" "secret" $credentials "key" "NATS_PASSWORD") }}
{{- end }}
{{- end }}
{{- with $values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if $needs.database }}
{{- if $values.database.existingSecret }}
{{ include "mlr.secretEnv" (dict "name" "DATABASE_URL" "secret" $values.database.existingSecret "key" $values.database.urlKey) }}
{{- else }}
{{ include "mlr.secretEnv" (dict "name" "DATABASE_URL" "secret" $credentials "key" "DATABASE_URL") }}
{{- end }}
{{- end }}
{{- if $needs.s3 }}
- name: S3_ENDPOINT
  value: {{ $values.s3.endpoint | quote }}
- name: S3_REGION
  value: {{ $values.s3.region | quote }}
- name: S3_BUCKET
  value: {{ $values.s3.bucket | quote }}
{{- if $values.s3.existingSecret }}
{{ include "mlr.secretEnv" (dict "name" "S3_ACCESS_KEY" "secret" $values.s3.existingSecret "key" $values.s3.accessKeyKey) }}
{{ include "mlr.secretEnv" (dict "name" "S3_SECRET_KEY" "secret" $values.s3.existingSecret "key" $values.s3.secretKeyKey) }}
{{- else }}
{{ include "mlr.secretEnv" (dict "name" "S3_ACCESS_KEY" "secret" $credentials "key" "S3_ACCESS_KEY") }}
{{ include "mlr.secretEnv" (dict "name" "S3_SECRET_KEY" "secret" $credentials "key" "S3_SECRET_KEY") }}
{{- end }}
{{- end }}
{{- if eq .component "gateway" }}
{{- with $values.auth }}
{{- if .jwksUrl }}
- name: AUTH_JWKS_URL
  value: {{ .jwksUrl | quote }}
{{- else if .publicKey }}
- name: AUTH_JWT_PUBLIC_KEY
  value: {{ .publicKey | quote }}
{{- else }}
{{ include "mlr.secretEnv" (dict "name" "AUTH_JWT_PUBLIC_KEY" "secret" .existingSecret "key" .publicKeyKey) }}
{{- end }}
{{- if .issuer }}
- name: AUTH_JWT_ISSUER
  value: {{ .issuer | quote }}
{{- else }}
{{ include "mlr.secretEnv" (dict "name" "AUTH_JWT_ISSUER" "secret" .existingSecret "key" .issuerKey) }}
{{- end }}
- name: AUTH_JWT_AUDIENCE
  value: {{ .audience | quote }}
- name: AUTH_CLOCK_TOLERANCE_SECONDS
  value: {{ .clockToleranceSeconds | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := .service.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Default scheduling preference: replicas of one service on different nodes, when there is room. */}}
{{- define "mlr.defaultAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "mlr.selectorLabels" . | nindent 12 }}
{{- end -}}

{{/* The node command that runs a TypeScript entry point of the repository inside the image. */}}
{{- define "mlr.nodeCommand" -}}
- node
- --import
- "@swc-node/register/esm-register"
- {{ . }}
{{- end -}}
