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

{{/* The services that connect to PostgreSQL, each as its own role, in a fixed order. */}}
{{- define "mlr.databaseServices" -}}
[licensing, scheduling, indexing, storage]
{{- end -}}

{{/* "true" when `name`'s database URL is needed: the service runs, or the migrations grant its role. */}}
{{- define "mlr.needsDatabaseUrl" -}}
{{- $service := get .root.Values.services .name -}}
{{- if or .root.Values.migrations.enabled $service.enabled -}}true{{- end -}}
{{- end -}}

{{/* The variable that holds a service's database URL in a Secret the chart writes: LICENSING_DATABASE_URL, … */}}
{{- define "mlr.databaseUrlKey" -}}{{ upper . }}_DATABASE_URL{{- end -}}

{{/*
An env entry with a database URL: (dict "name" ENV "entry" VALUES-ENTRY "secret" INLINE-SECRET "key" KEY):
from entry.existingSecret's entry.urlKey, or from the chart's own Secret when given inline.
*/}}
{{- define "mlr.databaseEnv" -}}
{{- if .entry.existingSecret -}}
{{ include "mlr.secretEnv" (dict "name" .name "secret" .entry.existingSecret "key" .entry.urlKey) }}
{{- else -}}
{{ include "mlr.secretEnv" (dict "name" .name "secret" .secret "key" .key) }}
{{- end -}}
{{- end -}}

{{/*
How the services authenticate to NATS: none, password or creds. `nats.auth.enabled: false`, the
switch of earlier chart versions, still means none (mlr.validate refuses it beside another mode).
*/}}
{{- define "mlr.natsAuthMode" -}}
{{- $auth := .Values.nats.auth -}}
{{- if and (hasKey $auth "enabled") (not $auth.enabled) -}}none{{- else -}}{{ $auth.mode }}{{- end -}}
{{- end -}}

{{/* Where the services read their NATS .creds file (NATS_CREDS) in creds mode. */}}
{{- define "mlr.natsCredsDir" -}}/var/run/secrets/mlr/nats{{- end -}}
{{- define "mlr.natsCredsPath" -}}{{ include "mlr.natsCredsDir" . }}/nats.creds{{- end -}}

{{/* Where licensing reads the NATS system account user's .creds file (LICENSING_NATS_SYSTEM_CREDS). */}}
{{- define "mlr.natsSystemCredsDir" -}}/var/run/secrets/mlr/nats-system{{- end -}}
{{- define "mlr.natsSystemCredsPath" -}}{{ include "mlr.natsSystemCredsDir" . }}/system.creds{{- end -}}

{{/* Inline credentials the chart has to put into its own Secret, as a map of key to value. */}}
{{- define "mlr.inlineCredentials" -}}
{{- $values := .Values -}}
{{- if and (eq (include "mlr.natsAuthMode" .) "password") (not $values.nats.auth.existingSecret) }}
NATS_USER: {{ $values.nats.auth.user | quote }}
NATS_PASSWORD: {{ $values.nats.auth.password | quote }}
{{- end }}
{{- range $name := include "mlr.databaseServices" . | fromYamlArray }}
{{- $entry := get $values.database $name }}
{{- if and (get $values.services $name).enabled (not $entry.existingSecret) }}
{{ include "mlr.databaseUrlKey" $name }}: {{ $entry.url | quote }}
{{- end }}
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
{{- if and $values.bucketSetup.enabled $values.services.storage.enabled -}}
{{- if or (not $values.bucketSetup.existingSecret) (not $values.bucketSetup.serviceUser) -}}
{{- fail "bucketSetup: set bucketSetup.existingSecret (a Secret with the bucket owner's S3 key) and bucketSetup.serviceUser (the S3 user of s3.existingSecret's key), or bucketSetup.enabled=false when the bucket is set up another way (storage refuses a bucket without Object Lock and a default retention)" -}}
{{- end -}}
{{- end -}}
{{- $natsAuth := $values.nats.auth -}}
{{- $natsMode := include "mlr.natsAuthMode" . -}}
{{- if hasKey $natsAuth "enabled" -}}
{{- if and (not $natsAuth.enabled) (ne $natsAuth.mode "password") -}}
{{- fail (printf "nats.auth: enabled=false (no credentials) contradicts mode=%s; remove nats.auth.enabled and set nats.auth.mode (none, password or creds)" $natsAuth.mode) -}}
{{- end -}}
{{- if and $natsAuth.enabled (eq $natsAuth.mode "none") -}}
{{- fail "nats.auth: enabled=true contradicts mode=none; remove nats.auth.enabled and set nats.auth.mode (none, password or creds)" -}}
{{- end -}}
{{- end -}}
{{- if and (eq $natsMode "password") (not $natsAuth.existingSecret) (or (not $natsAuth.user) (not $natsAuth.password)) -}}
{{- fail "nats.auth: set nats.auth.existingSecret (a Secret with NATS_USER and NATS_PASSWORD) or both nats.auth.user and nats.auth.password, or nats.auth.mode=creds (a .creds file from nats.auth.credsSecret) or mode=none" -}}
{{- end -}}
{{- if and (ne $natsMode "password") (or $natsAuth.user $natsAuth.password) -}}
{{- fail (printf "nats.auth: user and password are used only with mode=password, not with mode=%s; remove them from the values" $natsMode) -}}
{{- end -}}
{{- if eq $natsMode "creds" -}}
{{- if not $natsAuth.credsSecret -}}
{{- fail "nats.auth: mode=creds needs nats.auth.credsSecret, an existing Secret whose key nats.auth.credsKey holds the services user's .creds file (nsc generate creds)" -}}
{{- end -}}
{{- end -}}
{{- $licensing := $values.licensing -}}
{{- if $licensing.connectorCredentials.existingSecret -}}
{{- if ne $natsMode "creds" -}}
{{- fail (printf "licensing.connectorCredentials: connector credentials are user JWTs for a NATS server in operator mode, where the services connect with nats.auth.mode=creds (not %s)" $natsMode) -}}
{{- end -}}
{{- if eq $licensing.connectorCredentials.accountPublicKeyKey $licensing.connectorCredentials.accountSigningSeedKey -}}
{{- fail "licensing.connectorCredentials: accountPublicKeyKey and accountSigningSeedKey name the same key of the Secret; the public key (A...) and the signing seed (SA...) are two different values" -}}
{{- end -}}
{{- end -}}
{{- if $licensing.natsRevocation.existingSecret -}}
{{- if not $licensing.connectorCredentials.existingSecret -}}
{{- fail "licensing.natsRevocation: revoking connector credentials needs licensing.connectorCredentials.existingSecret (the platform account whose JWT is re-signed)" -}}
{{- end -}}
{{- if eq $licensing.natsRevocation.operatorSigningSeedKey $licensing.natsRevocation.systemCredsKey -}}
{{- fail "licensing.natsRevocation: operatorSigningSeedKey and systemCredsKey name the same key of the Secret; the operator signing seed (SO...) and the system user's .creds file are two different values" -}}
{{- end -}}
{{- end -}}
{{- if or (eq $natsMode "creds") $licensing.natsRevocation.existingSecret -}}
{{- if not (get $values.podSecurityContext "fsGroup") -}}
{{- fail "podSecurityContext.fsGroup: the NATS .creds files are mounted with mode 0440 for the pod's fsGroup; set podSecurityContext.fsGroup (the default is 1000) so that the non-root services can read them" -}}
{{- end -}}
{{- end -}}
{{- $migrationsDb := $values.migrations.database -}}
{{- if and $values.migrations.enabled (not $migrationsDb.existingSecret) (not $migrationsDb.url) -}}
{{- fail "migrations.database: set existingSecret (a Secret whose urlKey holds the owner role's postgresql:// URL) or url; the owner runs the migrations and grants each service's role" -}}
{{- end -}}
{{- range $name := include "mlr.databaseServices" . | fromYamlArray -}}
{{- $entry := get $values.database $name -}}
{{- if include "mlr.needsDatabaseUrl" (dict "root" $ "name" $name) -}}
{{- if and (not $entry.existingSecret) (not $entry.url) -}}
{{- fail (printf "database.%s: set existingSecret (a Secret whose urlKey holds %s's own postgresql:// URL: its role and password) or url" $name $name) -}}
{{- end -}}
{{- if $values.migrations.enabled -}}
{{- if or (and $entry.existingSecret (eq $entry.existingSecret $migrationsDb.existingSecret) (eq $entry.urlKey $migrationsDb.urlKey)) (and $entry.url (eq $entry.url $migrationsDb.url)) -}}
{{- fail (printf "database.%s: the same URL as migrations.database; each service needs a role of its own, not the owner's" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
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

{{/* How a workload reaches NATS as the services' user: NATS_URL and the credentials of the auth mode. */}}
{{- define "mlr.natsEnv" -}}
{{- $values := .Values -}}
- name: NATS_URL
  value: {{ $values.nats.url | quote }}
{{- $natsMode := include "mlr.natsAuthMode" . }}
{{- if eq $natsMode "password" }}
{{- if $values.nats.auth.existingSecret }}
{{ include "mlr.secretEnv" (dict "name" "NATS_USER" "secret" $values.nats.auth.existingSecret "key" $values.nats.auth.userKey) }}
{{ include "mlr.secretEnv" (dict "name" "NATS_PASSWORD" "secret" $values.nats.auth.existingSecret "key" $values.nats.auth.passwordKey) }}
{{- else }}
{{ include "mlr.secretEnv" (dict "name" "NATS_USER" "secret" (include "mlr.credentialsSecretName" .) "key" "NATS_USER") }}
{{ include "mlr.secretEnv" (dict "name" "NATS_PASSWORD" "secret" (include "mlr.credentialsSecretName" .) "key" "NATS_PASSWORD") }}
{{- end }}
{{- else if eq $natsMode "creds" }}
- name: NATS_CREDS
  value: {{ include "mlr.natsCredsPath" . | quote }}
{{- end }}
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
{{ include "mlr.natsEnv" $root }}
{{- with $values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if $needs.database }}
{{ include "mlr.databaseEnv" (dict "name" "DATABASE_URL" "entry" (get $values.database .component) "secret" $credentials "key" (include "mlr.databaseUrlKey" .component)) }}
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
{{- if eq .component "licensing" }}
{{- with $values.licensing.connectorCredentials }}
{{- if .existingSecret }}
{{ include "mlr.secretEnv" (dict "name" "LICENSING_NATS_ACCOUNT_PUBLIC_KEY" "secret" .existingSecret "key" .accountPublicKeyKey) }}
{{ include "mlr.secretEnv" (dict "name" "LICENSING_NATS_ACCOUNT_SIGNING_SEED" "secret" .existingSecret "key" .accountSigningSeedKey) }}
{{- end }}
{{- end }}
{{- with $values.licensing.natsRevocation }}
{{- if .existingSecret }}
{{ include "mlr.secretEnv" (dict "name" "LICENSING_NATS_OPERATOR_SIGNING_SEED" "secret" .existingSecret "key" .operatorSigningSeedKey) }}
- name: LICENSING_NATS_SYSTEM_CREDS
  value: {{ include "mlr.natsSystemCredsPath" $root | quote }}
{{- end }}
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

{{/*
Credential files mounted into one service's pod: (dict "root" $ "component" NAME). A list of
(dict "name" VOLUME "secret" SECRET "key" KEY "dir" MOUNT_DIR "file" FILE_NAME), empty when none.
Only the one key is projected, read-only, as 0440 (owner root, group the pod's fsGroup).
*/}}
{{- define "mlr.credentialFiles" -}}
{{- $values := .root.Values -}}
{{- $files := list -}}
{{- if eq (include "mlr.natsAuthMode" .root) "creds" -}}
{{- $files = append $files (dict "name" "nats-creds" "secret" $values.nats.auth.credsSecret "key" $values.nats.auth.credsKey "dir" (include "mlr.natsCredsDir" .root) "file" (base (include "mlr.natsCredsPath" .root))) -}}
{{- end -}}
{{- if and (eq .component "licensing") $values.licensing.natsRevocation.existingSecret -}}
{{- $files = append $files (dict "name" "nats-system-creds" "secret" $values.licensing.natsRevocation.existingSecret "key" $values.licensing.natsRevocation.systemCredsKey "dir" (include "mlr.natsSystemCredsDir" .root) "file" (base (include "mlr.natsSystemCredsPath" .root))) -}}
{{- end -}}
{{- toYaml (dict "files" $files) -}}
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

{{/*
The node command that runs a compiled entry point inside the image (dist/, see the Dockerfile).
WebAssembly (Prisma's query compiler) stays on V8's baseline compiler: optimising it costs ~60-80 MiB
of compiler memory per process for no measurable gain, 4 MiB semi-spaces keep the young
generation small, and the old generation grows by half at most between full collections
(libs/testing/src/compiled.ts).
*/}}
{{- define "mlr.nodeCommand" -}}
- node
- --no-wasm-dynamic-tiering
- --no-wasm-tier-up
- --max-semi-space-size=4
- --heap-growing-percent=50
- {{ . }}
{{- end -}}
