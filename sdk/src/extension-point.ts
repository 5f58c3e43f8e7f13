/**
 * Typed extension points, after Backstage's createExtensionPoint: the owning plugin exports a ref from its
 * published API module; contributors import that ref (never the owner's internals) and register an
 * implementation during their activation; the owner reads all contributions when it needs them.
 */

/** A typed reference to an extension point. `T` is what contributors provide. */
export interface ExtensionPointRef<T> {
  readonly id: string;
  /** Phantom field carrying the type; never set at run time. */
  readonly $type?: T;
}

/** Creates a ref. The id must match an `extensionPoints` entry in the owner's manifest. */
export function createExtensionPoint<T>(options: { id: string }): ExtensionPointRef<T> {
  return Object.freeze({ id: options.id });
}

/** One contribution, with the plugin that made it. */
export interface Contribution<T> {
  readonly pluginId: string;
  readonly value: T;
}

/** The host-held registry behind one extension point. */
export interface ExtensionPoint<T> {
  readonly id: string;
  /** Contribute an implementation (only while the contributing plugin activates). Returns a disposer. */
  register(value: T): () => void;
  /** Everything contributed by active plugins, in activation order. */
  all(): Contribution<T>[];
  /** Called when contributions are added or removed (plugin activated or deactivated). */
  onDidChange(listener: (delta: { added: Contribution<T>[]; removed: Contribution<T>[] }) => void): () => void;
}
