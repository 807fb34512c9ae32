import type { MailboxSelection, MailSource, SourceMailbox, SourceSession } from './mail-source.js';
import type { MailTarget, TargetSession } from './mail-target.js';

/** One of several sources (or targets) of a connector, by its configured name. */
export interface Route<T> {
  name: string;
  port: T;
}

/**
 * Which route holds a mailbox (its index), or throws an Error saying why none does. Every mailbox is
 * held by one route only: the connector's configuration lists each mailbox in one source.
 */
export type MailboxRouting = (mailbox: string) => number;

function routeOf<T>(routes: readonly Route<T>[], routing: MailboxRouting, mailbox: string): Route<T> {
  const route = routes[routing(mailbox)];
  if (!route) throw new Error(`mailbox ${mailbox} was routed to no source`);
  return route;
}

/**
 * Several mail sources as one: a job's mailboxes are each read from the source that holds it. A job
 * for every mailbox takes every source's mailboxes (a mailbox two sources would both name, such as
 * public folders, only from the source that holds it); a listed mailbox no source holds is named
 * anyway, so that opening it fails with the reason and the job reports it.
 */
export class RoutedMailSource implements MailSource {
  constructor(
    private readonly routes: readonly Route<MailSource>[],
    private readonly routing: MailboxRouting,
  ) {
    if (routes.length === 0) throw new RangeError('a routed mail source needs at least one source');
  }

  mailboxes(selection: MailboxSelection, options: { publicFolders: boolean }): SourceMailbox[] {
    const named: SourceMailbox[] = [];
    const seen = new Set<string>();
    const holds = (index: number, name: string) => {
      try {
        return this.routing(name) === index;
      } catch {
        return false;
      }
    };
    if (selection.kind === 'all') {
      for (const [index, route] of this.routes.entries()) {
        for (const mailbox of route.port.mailboxes(selection, options)) {
          if (seen.has(mailbox.name) || !holds(index, mailbox.name)) continue;
          seen.add(mailbox.name);
          named.push(mailbox);
        }
      }
      return named;
    }
    for (const name of selection.mailboxes) {
      if (seen.has(name)) continue;
      seen.add(name);
      let route: Route<MailSource>;
      try {
        route = routeOf(this.routes, this.routing, name);
      } catch {
        // `open` says why: the job records it as this mailbox's error.
        named.push({ name, scope: 'personal' });
        continue;
      }
      named.push(...route.port.mailboxes({ kind: 'list', mailboxes: [name] }, options));
    }
    return named;
  }

  async open(mailbox: SourceMailbox): Promise<SourceSession> {
    return routeOf(this.routes, this.routing, mailbox.name).port.open(mailbox);
  }
}

/** Several mail targets as one: each mailbox is written through the target that holds it. */
export class RoutedMailTarget implements MailTarget {
  readonly name: string;

  constructor(
    private readonly routes: readonly Route<MailTarget>[],
    private readonly routing: MailboxRouting,
  ) {
    if (routes.length === 0) throw new RangeError('a routed mail target needs at least one target');
    this.name = [...new Set(routes.map((route) => route.port.name))].join(' or ');
  }

  accepts(mailbox: string, item: Parameters<MailTarget['accepts']>[1]): string | null {
    let route: Route<MailTarget>;
    try {
      route = routeOf(this.routes, this.routing, mailbox);
    } catch {
      // A mailbox no target holds: opening it says so, for every item alike.
      return null;
    }
    return route.port.accepts(mailbox, item);
  }

  async open(mailbox: string): Promise<TargetSession> {
    return routeOf(this.routes, this.routing, mailbox).port.open(mailbox);
  }
}
