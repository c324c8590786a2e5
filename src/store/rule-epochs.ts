import type Database from 'better-sqlite3';
import type { Registration } from '../rules/registration.js';

/**
 * Registration epochs in the database: `rules.epoch` is each registered
 * rule's, `rule_epochs` the last one each name ever had (a removed rule
 * leaves the rules table, not this one). Writers run inside the caller's
 * transaction.
 */
export class RuleEpochs {
  constructor(private readonly db: Database.Database) {}

  /** False on a database older than epochs, opened read-only (`meow plan`): every epoch is 0 there. */
  private get present(): boolean {
    return (this.db.pragma('user_version', { simple: true }) as number) >= 5;
  }

  /** The registered rules' versions and epochs, by name. */
  registered(): Map<string, Registration> {
    const sql = this.present ? 'SELECT name, version, epoch FROM rules' : 'SELECT name, version, 0 AS epoch FROM rules';
    const rows = this.db.prepare(sql).all() as { name: string; version: string; epoch: number }[];
    return new Map(rows.map((r) => [r.name, { version: r.version, epoch: r.epoch }]));
  }

  /** The last epoch of every name ever registered. */
  last(): Map<string, number> {
    if (!this.present) return new Map();
    const rows = this.db.prepare('SELECT name, epoch FROM rule_epochs').all() as { name: string; epoch: number }[];
    return new Map(rows.map((r) => [r.name, r.epoch]));
  }

  /** Records the epochs of the rules just saved (`Store.saveRules`). */
  save(rules: readonly { name: string; epoch?: number }[]): void {
    const setRule = this.db.prepare('UPDATE rules SET epoch = ? WHERE name = ?');
    const setLast = this.db.prepare(
      'INSERT INTO rule_epochs (name, epoch) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET epoch = max(epoch, excluded.epoch)',
    );
    for (const r of rules) {
      const epoch = r.epoch ?? 0;
      setRule.run(epoch, r.name);
      setLast.run(r.name, epoch);
    }
  }
}
