import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * zod for the runtime schemas: `zod/mini`, the same core as classic zod with a functional API, whose
 * module builds next to nothing at import (classic builds all its schema classes when loaded, most of a
 * bundle's import time beyond its AWS SDK clients). Mini does not register a locale of its own; the
 * English one set here, once, gives the messages classic zod gives (issues name the field and the rule
 * in 4xx responses). Every module that declares a runtime schema imports `z` from here, so the locale
 * is in place before any schema parses. An explicit `z.config` wins over classic's lazy default, so a
 * bundle that also holds classic zod (the console) keeps the same messages.
 */
z.config(en());

export { z };

/**
 * An issue raised inside a `z.transform`: what classic zod's `ctx.addIssue(...)` does there (mini's
 * transform context has no `addIssue`), giving the same issue, with the message as given.
 */
export function transformIssue(ctx: z.core.ParsePayload, message: string): void {
  ctx.issues.push({ code: 'custom', message, input: ctx.value });
}
