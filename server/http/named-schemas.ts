import { z } from 'zod';

/**
 * The response schemas that have a name in the document (components.schemas): a generated client
 * gets a type of that name, and the document says each shape once.
 */
export const namedSchemas = z.registry<{ id: string }>();

/** Gives a response schema its name in the document. */
export function named<T extends z.ZodType>(id: string, schema: T): T {
  namedSchemas.add(schema, { id });
  return schema;
}
