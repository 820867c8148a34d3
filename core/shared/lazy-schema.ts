const BUILT = Symbol('built value');

/**
 * A value (a zod schema, a logger...) built on first use instead of at import, with the type of what
 * `build` returns.
 *
 * Building zod schemas is most of what a bundle spends at import beyond its AWS SDK clients (each
 * schema and each `.optional()`, `.min()`... is an object with dozens of closures), and most functions
 * use few of the schemas their modules declare. Wrapping a module-level schema keeps its one
 * definition, and every type inferred from it, while a function that never parses with it never
 * builds it. The stand-in forwards every operation to the built value, so callers (and other schemas
 * that nest it) use it as they would the schema itself.
 */
export function builtOnFirstUse<T extends object>(build: () => T): T {
  let built: T | undefined;
  const real = (): T => {
    built ??= build();
    return built;
  };
  // Methods are bound to the built value (class methods may read its private fields), once per name.
  const bound = new Map<PropertyKey, { of: unknown; fn: unknown }>();
  return new Proxy({} as T, {
    get: (_, key) => {
      const target = real();
      if (key === BUILT) return target;
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      const known = bound.get(key);
      if (known?.of === value) return known.fn;
      const fn = (value as (...args: unknown[]) => unknown).bind(target);
      bound.set(key, { of: value, fn });
      return fn;
    },
    set: (_, key, value) => Reflect.set(real(), key, value),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    // A proxy may only report configurable properties that its (empty) target does not hold.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(real(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
}

/** `builtOnFirstUse` for zod schemas declared at module level. */
export const lazySchema = builtOnFirstUse;

/**
 * The value itself behind a `builtOnFirstUse` stand-in (anything else is returned as it is). Needed
 * where identity matters: `z.toJSONSchema` keys its walk by schema object, so it must be given the
 * built schema, and that schema must not nest stand-ins (build nested parts inside its factory).
 */
export function builtValue<T>(value: T): T {
  const built = (value as { [BUILT]?: T } | null)?.[BUILT];
  return built ?? value;
}
