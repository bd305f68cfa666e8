/**
 * ajv per part of a request. A query string or a path is text: its numbers, booleans and lists
 * are read from it (coerced). A JSON body has types, and is taken as typed: coerced, PATCH
 * `{"price": null}` made an item free, `{"stock": null}` sold it out and `{"consent":
 * {"personalization": null}}` withdrew consent; now each is a 400 naming the field. Fastify's own
 * compiler (@fastify/ajv-compiler, its formats and options) builds both.
 */
import AjvCompiler from '@fastify/ajv-compiler';

/** What Fastify hands a validator compiler: each part of each route. */
interface RoutePart {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
}
type Compile = (part: RoutePart) => unknown;
type Pool = AjvCompiler.BuildCompilerFromPool;

/** Fastify's `schemaController.compilersFactory.buildValidator`. */
export const typedBodies: Pool = (externalSchemas, options) => {
  // The typings give a compiler ajv's signature; Fastify calls it with the route part.
  const build = AjvCompiler() as unknown as (...args: Parameters<Pool>) => Compile;
  const coercing = build(externalSchemas, options);
  const typed = build(externalSchemas, {
    ...options,
    customOptions: { ...options?.customOptions, coerceTypes: false },
  } as Parameters<Pool>[1]);
  const compile: Compile = (part) => (part.httpPart === 'body' ? typed : coercing)(part);
  return compile as unknown as ReturnType<Pool>;
};
