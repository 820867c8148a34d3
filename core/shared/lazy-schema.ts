/**
 * A value built on first use instead of at import, with the type of what `build` returns.
 *
 * Building zod schemas is most of what a bundle spends at import beyond its AWS SDK clients (each
 * schema and each `.optional()`, `.min()`... is an object with dozens of closures), and most functions
 * use few of the schemas their modules declare. Wrapping a module-level schema keeps its one
 * definition, and every type inferred from it, while a function that never parses with it never
 * builds it. The stand-in forwards every operation to the built value, so callers (and other schemas
 * that nest it) use it as they would the schema itself.
 */
export function lazySchema<T extends object>(build: () => T): T {
  let built: T | undefined;
  const real = (): T => {
    built ??= build();
    return built;
  };
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(real(), key),
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
