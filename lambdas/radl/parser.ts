/**
 * Recursive-descent parser for the RADL text form (no validation; see check.ts).
 */
import { RadlError } from './errors.ts';
import { MAX_RANDOM_LENGTH, randomAlphanumeric, randomSpecLength } from './format.ts';
import {
  describeToken,
  describeTokenKind,
  Lexer,
  T_CMP,
  T_COMMA,
  T_EOF,
  T_ID,
  T_KW,
  T_LBRACK,
  T_LPAREN,
  T_NUM,
  T_RBRACK,
  T_RECIPE,
  T_RPAREN,
  T_STR,
  type Token,
} from './lexer.ts';
import {
  AnsibleHost,
  type Comparator,
  Configure,
  Contextualize,
  type ContextualizeItem,
  Deploy,
  Description,
  Feature,
  Features,
  Network,
  Radl,
  SoftBlock,
  System,
} from './model.ts';


/** Features whose values are secrets (error messages never quote the text around them). */
const SECRET_FEATURE = /(^|\.)(password|private_key|token|secret)$/i;
/** Maximum nesting of `contains` blocks (guards the stack against hostile input). */
export const MAX_NESTING = 32;

const SECTION_KEYWORDS = "'network', 'system', 'ansible', 'configure', 'contextualize' or 'deploy'";

/**
 * Expand `'random(N)'` (N random alphanumerics). Several digits are supported (the reference crashed on N > 9),
 * up to MAX_RANDOM_LENGTH.
 */
function expandRandom(value: string, tok: Token): string {
  const n = randomSpecLength(value);
  if (n < 0) return value;
  if (n > MAX_RANDOM_LENGTH) {
    throw RadlError.at(`'random(N)' supports at most ${MAX_RANDOM_LENGTH} characters`, tok.line, tok.col);
  }
  return randomAlphanumeric(n);
}

class Parser {
  private lx: Lexer;
  private tok: Token;
  private radl = new Radl();
  /** Unit token of the last numeric feature (to explain a forgotten 'and'). */
  private lastUnit: Token | undefined;
  /** The feature just read holds a secret (a password, a private key): errors do not quote what follows. */
  private afterSecret = false;
  private ids = {
    network: new Map<string, number>(),
    system: new Map<string, number>(),
    ansible: new Map<string, number>(),
    configure: new Map<string, number>(),
  };

  constructor(text: string) {
    this.lx = new Lexer(text);
    this.tok = this.lx.next();
  }

  private at(type: number): boolean {
    return this.tok.type === type;
  }

  private atKw(word: string): boolean {
    return this.at(T_KW) && this.tok.text === word;
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lx.next();
    return t;
  }

  private fail(reason: string, t: Token = this.tok): never {
    throw RadlError.at(reason, t.line, t.col);
  }

  private expected(what: string, t: Token = this.tok): never {
    // Right after a password or private key, a stray token is most likely part of the secret: name its kind only.
    this.fail(`expected ${what}, found ${this.afterSecret ? describeTokenKind(t) : describeToken(t)}`, t);
  }

  private expect(type: number, what: string): Token {
    if (this.tok.type !== type) this.expected(what);
    return this.advance();
  }

  private expectId(what: string): Token {
    if (this.at(T_KW)) this.fail(`expected ${what}, found keyword '${this.tok.text}' (keywords are reserved)`);
    return this.expect(T_ID, what);
  }

  parse(): Radl {
    let first = true;
    while (!this.at(T_EOF)) {
      const t = this.tok;
      if (t.type !== T_KW) {
        this.expected(`a section (${SECTION_KEYWORDS})`);
      }
      switch (t.text) {
        case 'description':
          if (this.radl.description !== undefined) this.fail('Description can only be defined once.');
          if (!first) this.fail("the 'description' must be the first section of the document");
          this.description();
          break;
        case 'network':
          this.network();
          break;
        case 'system':
          this.system();
          break;
        case 'ansible':
          this.ansible();
          break;
        case 'configure':
          this.configure();
          break;
        case 'contextualize':
          this.contextualize();
          break;
        case 'deploy':
          this.deploy();
          break;
        default:
          this.expected(`a section (${SECTION_KEYWORDS})`);
      }
      first = false;
    }
    return this.radl;
  }

  private checkUnique(kind: keyof Parser['ids'], id: Token): void {
    const map = this.ids[kind];
    const prev = map.get(id.text);
    if (prev !== undefined) {
      this.fail(`Aspect with the same id was found. (${kind} '${id.text}' is already defined at line ${prev})`, id);
    }
    map.set(id.text, id.line);
  }

  private description(): void {
    const kw = this.advance();
    const id = this.expectId("a description id after 'description'");
    const d = new Description(id.text);
    d.line = kw.line;
    d.column = kw.col;
    if (this.at(T_LPAREN)) this.featureBlock(d, false, 0);
    this.radl.description = d;
  }

  private network(): void {
    const kw = this.advance();
    const id = this.expectId("a network id after 'network'");
    this.checkUnique('network', id);
    const n = new Network(id.text);
    n.line = kw.line;
    n.column = kw.col;
    if (this.at(T_LPAREN)) this.featureBlock(n, false, 0);
    else n.reference = true;
    this.radl.networks.push(n);
  }

  private system(): void {
    const kw = this.advance();
    const id = this.expectId("a system id after 'system'");
    this.checkUnique('system', id);
    const s = new System(id.text);
    s.line = kw.line;
    s.column = kw.col;
    if (this.at(T_LPAREN)) this.featureBlock(s, true, 0);
    else s.reference = true;
    this.radl.systems.push(s);
  }

  private ansible(): void {
    const kw = this.advance();
    const id = this.expectId("an ansible host id after 'ansible'");
    this.checkUnique('ansible', id);
    const a = new AnsibleHost(id.text);
    a.line = kw.line;
    a.column = kw.col;
    if (!this.at(T_LPAREN)) this.expected(`'(' after 'ansible ${id.text}' (ansible sections need a body)`);
    this.featureBlock(a, false, 0);
    this.radl.ansibleHosts.push(a);
  }

  private configure(): void {
    const kw = this.advance();
    const id = this.expectId("a configure id after 'configure'");
    this.checkUnique('configure', id);
    const c = new Configure(id.text);
    c.line = kw.line;
    c.column = kw.col;
    if (this.at(T_LPAREN)) {
      this.advance();
      if (this.at(T_RECIPE)) {
        const r = this.advance();
        c.recipes = r.text;
        c.recipeLine = r.line;
      }
      this.expect(T_RPAREN, c.recipes === null ? "'@begin' or ')'" : "')' after '@end'");
    } else {
      c.reference = true;
    }
    this.radl.configures.push(c);
  }

  private deploy(): void {
    const kw = this.advance();
    const id = this.expectId("a system id after 'deploy'");
    const num = this.expect(T_NUM, `the number of VMs after 'deploy ${id.text}'`);
    const d = new Deploy(id.text, num.num);
    d.line = kw.line;
    d.column = kw.col;
    if (this.at(T_ID)) d.cloudId = this.advance().text;
    this.radl.deploys.push(d);
  }

  private contextualize(): void {
    const kw = this.advance();
    const c = new Contextualize();
    c.line = kw.line;
    c.column = kw.col;
    if (this.at(T_NUM)) c.maxTime = this.advance().num;
    this.expect(T_LPAREN, c.maxTime === undefined ? "a max time or '(' after 'contextualize'" : "'('");
    for (;;) {
      const t = this.tok;
      if (t.type === T_RPAREN) break;
      if (t.type === T_KW && t.text === 'option') {
        this.advance();
        const name = this.expectId("an option name after 'option'");
        const op = this.expect(T_CMP, `a comparator after 'option ${name.text}'`);
        let value: string | number;
        if (this.at(T_STR)) value = expandRandom(this.advance().text, t);
        else if (this.at(T_NUM)) value = this.advance().num;
        else this.expected(`a string or a number as the value of option '${name.text}'`);
        c.options[name.text] = { operator: op.text as Comparator, value };
      } else if (t.type === T_KW && t.text === 'system') {
        this.advance();
        const sys = this.expectId("a system id after 'system'");
        if (!(this.atKw('configure'))) {
          this.expected(`'configure' after 'system ${sys.text}' in contextualize`);
        }
        this.advance();
        const conf = this.expectId("a configure id after 'configure'");
        const item: ContextualizeItem = { systemId: sys.text, configureId: conf.text, line: t.line, column: t.col };
        // `step N` and `with tool`, each at most once, in any order.
        for (;;) {
          if (!this.at(T_KW)) break;
          if (this.tok.text === 'step') {
            if (item.step !== undefined) this.fail("'step' given twice in a contextualize item");
            this.advance();
            item.step = this.expect(T_NUM, "a number after 'step'").num;
          } else if (this.tok.text === 'with') {
            if (item.ctxtTool !== undefined) this.fail("'with' given twice in a contextualize item");
            this.advance();
            item.ctxtTool = this.expectId("a contextualization tool after 'with' (Ansible or cloud_init)").text;
          } else {
            break;
          }
        }
        c.addItem(item);
      } else {
        this.expected("'option', 'system' or ')' in contextualize");
      }
    }
    this.advance();
    if (this.radl.contextualize === undefined) this.radl.contextualize = c;
    else this.radl.contextualize.merge(c);
  }

  /** `( features )` */
  private featureBlock(target: Features, allowSoft: boolean, depth: number): void {
    this.advance(); // (
    if (this.at(T_RPAREN)) {
      this.advance();
      return;
    }
    for (;;) {
      this.lastUnit = undefined;
      this.afterSecret = false;
      this.feature(target, allowSoft, depth);
      if (this.atKw('and')) {
        this.advance();
        continue;
      }
      if (this.at(T_RPAREN)) break;
      if (this.at(T_ID)) this.expected("'and' or ')' after a feature (missing 'and'?)");
      const u = this.lastUnit as Token | undefined; // set by feature()
      if (u !== undefined && !this.afterSecret && (this.at(T_CMP) || this.atKw('contains'))) {
        // `a = 1\n b = 2`: 'b' was read as the unit of 1.
        this.fail(`expected 'and' or ')' after a feature, found identifier '${u.text}' (missing 'and' before '${u.text}'?)`, u);
      }
      this.expected("'and' or ')' after a feature");
    }
    this.advance();
  }

  private feature(target: Features, allowSoft: boolean, depth: number): void {
    const t = this.tok;
    if (t.type === T_KW && t.text === 'soft') {
      if (!allowSoft) this.fail("'soft' blocks are only allowed directly inside a system");
      this.advance();
      const w = this.expect(T_NUM, "a weight after 'soft'");
      if (!this.at(T_LPAREN)) this.expected(`'(' after 'soft ${w.text}'`);
      const soft = new SoftBlock(w.num);
      soft.line = t.line;
      soft.column = t.col;
      this.featureBlock(soft, false, depth + 1);
      (target as System).softs.push(soft);
      return;
    }
    if (t.type !== T_ID) {
      if (t.type === T_KW) this.fail(`expected a feature name, found keyword '${t.text}' (keywords are reserved)`);
      this.expected('a feature name');
    }
    this.advance();
    const op = this.tok;
    if (op.type === T_KW && op.text === 'contains') {
      this.advance();
      if (!this.at(T_LPAREN)) this.expected(`'(' after '${t.text} contains'`);
      if (depth >= MAX_NESTING) this.fail(`'contains' blocks nested too deeply (max ${MAX_NESTING})`);
      const inner = new Features();
      this.featureBlock(inner, false, depth + 1);
      target.addFeature(new Feature(t.text, 'contains', inner, undefined, t.line, t.col));
      return;
    }
    if (op.type !== T_CMP) this.expected(`a comparator (=, <, >, <=, >=) or 'contains' after '${t.text}'`);
    this.advance();
    this.afterSecret = SECRET_FEATURE.test(t.text);
    const v = this.tok;
    let f: Feature;
    if (v.type === T_NUM) {
      this.advance();
      let unit: string | undefined;
      if (this.at(T_ID)) {
        this.lastUnit = this.advance();
        unit = this.lastUnit.text;
      }
      f = new Feature(t.text, op.text as Comparator, v.num, unit, t.line, t.col);
    } else if (v.type === T_STR) {
      this.advance();
      f = new Feature(t.text, op.text as Comparator, expandRandom(v.text, v), undefined, t.line, t.col);
    } else if (v.type === T_LBRACK) {
      this.advance();
      const list: string[] = [];
      if (!this.at(T_RBRACK)) {
        for (;;) {
          const s = this.expect(T_STR, 'a string in the list (lists hold single-quoted strings)');
          list.push(expandRandom(s.text, s));
          if (this.at(T_COMMA)) {
            this.advance();
            continue;
          }
          if (!this.at(T_RBRACK)) this.expected("',' or ']' in the list");
          break;
        }
      }
      this.advance();
      f = new Feature(t.text, op.text as Comparator, list, undefined, t.line, t.col);
    } else {
      this.expected(`a value (number, 'string' or list) after '${t.text} ${op.text}'`);
    }
    target.addFeature(f);
  }
}

/**
 * Parse the RADL text form. Syntax errors and feature conflicts throw RadlError with line and column
 * (`line L, column C: …`). No validation is done: call checkRadl.
 */
export function parseRadl(text: string): Radl {
  if (typeof text !== 'string') throw new RadlError('RADL text must be a string');
  return new Parser(text).parse();
}
