import { firstLine } from './format.js';
import type { StreamEvent } from '../api/shapes.js';

/** What an entry is about; the Events view filters on it. */
export type EntryKind = 'file' | 'job' | 'rule' | 'log';
/** How an entry reads: plain, good news, a warning or an error. */
export type EntryLevel = 'info' | 'ok' | 'warn' | 'error';

/** One line of the Events view. */
export interface LogEntry {
  seq: number;
  at: number;
  kind: EntryKind;
  level: EntryLevel;
  text: string;
}

/** The latest `cap` entries, oldest first; `next` numbers the next one. */
export interface EventLog {
  entries: readonly LogEntry[];
  next: number;
  cap: number;
}

export function emptyLog(cap = 1000): EventLog {
  return { entries: [], next: 1, cap };
}

/** The lines one engine event shows as. */
export function describeEvent(e: StreamEvent): Omit<LogEntry, 'seq' | 'at'>[] {
  switch (e.name) {
    case 'file:event': {
      const d = e.data;
      const from = d.oldPath ? ` (from ${d.oldPath})` : '';
      const gen = d.generation > 0 ? ` gen ${d.generation}` : '';
      return [{ kind: 'file', level: 'info', text: `${d.kind.padEnd(9)} ${d.path}${from}${gen}` }];
    }
    case 'job:queued':
    case 'job:started':
    case 'job:finished': {
      const j = e.data;
      const verb = e.name === 'job:queued' ? 'queued' : e.name === 'job:started' ? 'started' : j.status;
      const level: EntryLevel = j.status === 'failed' ? 'error' : j.status === 'succeeded' ? 'ok' : j.status === 'cancelled' ? 'warn' : 'info';
      const why = e.name === 'job:finished' && j.error ? ` — ${firstLine(j.error)}` : '';
      return [{ kind: 'job', level, text: `${verb.padEnd(9)} ${j.pattern} ${j.input} ${j.id}${why}` }];
    }
    case 'rules:changed':
      return e.data.changes.map((c) => ({
        kind: 'rule' as const,
        level: 'info' as const,
        text: `pattern ${c.pattern} ${c.change}: ${c.triggers} jobs triggered, ${c.cancels} cancelled`,
      }));
    case 'definitions:invalid':
      return e.data.map((d) => ({ kind: 'rule' as const, level: 'error' as const, text: `${d.file}: ${d.key ? `${d.key}: ` : ''}${d.message}` }));
    case 'log':
      return [{ kind: 'log', level: e.data.level === 'info' ? 'info' : e.data.level, text: e.data.message }];
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The log with the events' lines appended (the oldest beyond `cap` dropped). */
export function appendEvents(log: EventLog, events: readonly StreamEvent[], at: number): EventLog {
  if (events.length === 0) return log;
  let next = log.next;
  const added: LogEntry[] = [];
  for (const e of events) for (const d of describeEvent(e)) added.push({ ...d, seq: next++, at });
  const entries = [...log.entries, ...added];
  return { ...log, next, entries: entries.length > log.cap ? entries.slice(entries.length - log.cap) : entries };
}

/** The Events view's filters, cycled with `f`. */
export const EVENT_FILTERS = ['all', 'file', 'job', 'rule', 'log'] as const;
export type EventFilter = (typeof EVENT_FILTERS)[number];

export function filterEntries(entries: readonly LogEntry[], filter: EventFilter): readonly LogEntry[] {
  return filter === 'all' ? entries : entries.filter((e) => e.kind === filter);
}
