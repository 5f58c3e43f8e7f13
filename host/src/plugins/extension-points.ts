import type { Contribution, ExtensionPoint } from 'kassenwart/sdk';

type Delta<T> = { added: Contribution<T>[]; removed: Contribution<T>[] };

/** The host-held registry behind one extension point (VS Code style: added/removed deltas). */
class Point<T> implements ExtensionPoint<T> {
  private items: Contribution<T>[] = [];
  private readonly listeners = new Set<(d: Delta<T>) => void>();
  constructor(readonly id: string, readonly owner: string) {}

  /** Registration on behalf of a plugin (the host binds pluginId). */
  registerFor(pluginId: string, value: T): () => void {
    const c = { pluginId, value };
    this.items.push(c);
    this.emit({ added: [c], removed: [] });
    return () => {
      const i = this.items.indexOf(c);
      if (i >= 0) {
        this.items.splice(i, 1);
        this.emit({ added: [], removed: [c] });
      }
    };
  }

  register(): () => void {
    throw new Error('register() needs a plugin: use the extension point from your PluginContext');
  }

  all(): Contribution<T>[] {
    return [...this.items];
  }

  onDidChange(l: (d: Delta<T>) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private emit(d: Delta<T>) {
    for (const l of this.listeners) {
      try { l(d); } catch { /* listener problems stay with the listener */ }
    }
  }
}

/** All extension points by id. */
export class ExtensionPoints {
  private readonly points = new Map<string, Point<unknown>>();

  declare(id: string, owner: string): void {
    if (!this.points.has(id)) this.points.set(id, new Point(id, owner));
  }

  ownerOf(id: string): string | undefined {
    return this.points.get(id)?.owner;
  }

  /** A view bound to one plugin: its register() records the plugin as contributor. */
  viewFor<T>(id: string, pluginId: string, track: (dispose: () => void) => void): ExtensionPoint<T> {
    const p = this.points.get(id) as Point<T> | undefined;
    if (!p) throw new Error(`unknown extension point ${id}`);
    return {
      id,
      register: (value: T) => {
        const dispose = p.registerFor(pluginId, value);
        track(dispose);
        return dispose;
      },
      all: () => p.all(),
      onDidChange: (l) => {
        const off = p.onDidChange(l);
        track(off);
        return off;
      },
    };
  }
}
