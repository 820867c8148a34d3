import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The runtime schemas use `zod/mini`: the same core as classic zod with a functional API, whose module
 * builds next to nothing at import (classic builds all its schema classes when loaded, most of what a
 * bundle spends at import beyond its AWS SDK clients). Mini registers no locale of its own; importing
 * this module sets the English one, once, so issues carry the messages classic zod gives (4xx responses
 * name the field and the rule from them). Every module that declares a runtime schema imports it next to
 * `import * as z from 'zod/mini'`. An explicit `z.config` wins over classic's lazy default, so a bundle
 * that also holds classic zod (the console) keeps the same messages.
 *
 * Each module imports zod itself as a namespace, rather than a `z` re-exported from here: a namespace
 * object passed on as a value keeps every export of zod in the bundle, the ~60 locale modules included.
 */
z.config(en());

/**
 * An issue raised inside a `z.transform`: what classic zod's `ctx.addIssue(message)` does there (mini's
 * transform context has no `addIssue`), the same issue with the message as given.
 */
export function transformIssue(ctx: z.core.ParsePayload, message: string): void {
  ctx.issues.push({ code: 'custom', message, input: ctx.value });
}
