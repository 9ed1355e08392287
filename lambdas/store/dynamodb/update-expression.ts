/** UpdateExpression building with generated placeholder names and values. */
import { COMPRESSIBLE, GZ_PREFIX, KEY_ATTRIBUTE_SET, compress, isLarge } from '#store/dynamodb/items';

export class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly nameOf = new Map<string, string>();
  private counter = 0;

  name(attr: string): string {
    let placeholder = this.nameOf.get(attr);
    if (!placeholder) {
      placeholder = `#a${this.nameOf.size}`;
      this.nameOf.set(attr, placeholder);
      this.names[placeholder] = attr;
    }
    return placeholder;
  }

  value(v: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = v;
    return placeholder;
  }

  set(attr: string, v: unknown): this {
    this.sets.push(`${this.name(attr)} = ${this.value(v)}`);
    return this;
  }

  remove(attr: string): this {
    this.removes.push(this.name(attr));
    return this;
  }

  add(attr: string, v: number): this {
    this.adds.push(`${this.name(attr)} ${this.value(v)}`);
    return this;
  }

  /** Applies a record patch: undefined values remove the attribute, large text is compressed. */
  patch(patch: object, immutable: ReadonlySet<string>): this {
    for (const [field, value] of Object.entries(patch)) {
      if (immutable.has(field) || KEY_ATTRIBUTE_SET.has(field) || field.startsWith('_')) continue;
      const compressible = COMPRESSIBLE.has(field);
      if (value === undefined) {
        this.remove(field);
        if (compressible) this.remove(GZ_PREFIX + field);
      } else if (compressible && typeof value === 'string' && isLarge(value)) {
        this.set(GZ_PREFIX + field, compress(value)).remove(field);
      } else {
        this.set(field, value);
        if (compressible) this.remove(GZ_PREFIX + field);
      }
    }
    return this;
  }

  expression(): string {
    const parts: string[] = [];
    if (this.sets.length) parts.push(`SET ${this.sets.join(', ')}`);
    if (this.removes.length) parts.push(`REMOVE ${this.removes.join(', ')}`);
    if (this.adds.length) parts.push(`ADD ${this.adds.join(', ')}`);
    return parts.join(' ');
  }
}
