import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { DESTINATION_TYPES, DestinationSettingsSchemas } from '../../core/activate/destinations.js';
import { builtOnFirstUse, builtValue, lazySchema } from '../../core/shared/lazy-schema.js';

describe('values built on first use', () => {
  it('build a schema only when something uses it, once, and behave as the schema', () => {
    let builds = 0;
    const Inner = lazySchema(() => {
      builds++;
      return z.object({ a: z.string().min(2, 'too short') });
    });
    const Outer = lazySchema(() => z.object({ inner: Inner, list: z.array(Inner).optional() }));
    expect(builds).toBe(0);
    expect(Outer.safeParse({ inner: { a: 'x' } }).error?.issues.map((i) => [i.path, i.message])).toEqual([
      [['inner', 'a'], 'too short'],
    ]);
    expect(Outer.parse({ inner: { a: 'xy' }, list: [{ a: 'zz' }] })).toEqual({
      inner: { a: 'xy' },
      list: [{ a: 'zz' }],
    });
    expect(Inner instanceof z.ZodObject).toBe(true);
    expect(Object.keys(Inner.extend({ b: z.number() }).shape)).toEqual(['a', 'b']);
    expect(builds).toBe(1);
  });

  it('call methods on the built value, so classes with private fields work through it', () => {
    class Counter {
      #n = 0;
      bump() {
        this.#n++;
        return this.#n;
      }
    }
    const counter = builtOnFirstUse(() => new Counter());
    counter.bump();
    expect(counter.bump()).toBe(2);
  });

  it("give the console's forms the JSON Schema of every destination type's settings", () => {
    for (const type of DESTINATION_TYPES) {
      const json = z.toJSONSchema(builtValue(DestinationSettingsSchemas[type]) as z.core.$ZodType, {
        io: 'input',
        unrepresentable: 'any',
      }) as { properties?: Record<string, unknown> };
      expect(Object.keys(json.properties ?? {}), type).toContain('traits');
    }
  });
});
