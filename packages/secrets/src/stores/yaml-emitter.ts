/*
 * The YAML emitter of go-yaml v3 (emitterc.go of go.yaml.in/yaml/v3 v3.0.4, sops 3.13's), ported for the events
 * sops produces: block mappings and sequences, empty ones in flow style, scalars in the five styles,
 * and the head/line/foot/tail comments go-yaml attaches to events. Output width is unlimited (v3's
 * default), indentation is sops' 4. Byte-for-byte sameness with sops' output is the point: keep the
 * structure of the Go code when changing this.
 */

export type ScalarStyle = 'plain' | 'single' | 'double' | 'literal' | 'folded';

interface Comments {
  head?: string;
  line?: string;
  foot?: string;
  tail?: string;
}

export type YamlEvent =
  | ({ type: 'stream-start' } & Comments)
  | ({ type: 'stream-end' } & Comments)
  | ({ type: 'document-start'; implicit: boolean } & Comments)
  | ({ type: 'document-end'; implicit: boolean } & Comments)
  | ({ type: 'sequence-start'; tag?: string } & Comments)
  | ({ type: 'sequence-end' } & Comments)
  | ({ type: 'mapping-start'; tag?: string } & Comments)
  | ({ type: 'mapping-end' } & Comments)
  | ({ type: 'scalar'; value: string; style: ScalarStyle; tag?: string } & Comments);

type State =
  | 'stream-start'
  | 'first-document-start'
  | 'document-start'
  | 'document-content'
  | 'document-end'
  | 'flow-sequence-first-item'
  | 'flow-sequence-trail-item'
  | 'flow-sequence-item'
  | 'flow-mapping-first-key'
  | 'flow-mapping-trail-key'
  | 'flow-mapping-key'
  | 'flow-mapping-simple-value'
  | 'flow-mapping-value'
  | 'block-sequence-first-item'
  | 'block-sequence-item'
  | 'block-mapping-first-key'
  | 'block-mapping-key'
  | 'block-mapping-simple-value'
  | 'block-mapping-value'
  | 'end';

// ---- character classes (yamlprivateh.go), on code points

const isBreak = (c: number | undefined): boolean => c === 0x0d || c === 0x0a || c === 0x85 || c === 0x2028 || c === 0x2029;
const isSpace = (c: number | undefined): boolean => c === 0x20;
const isBlank = (c: number | undefined): boolean => c === 0x20 || c === 0x09;
const isBlankz = (c: number | undefined): boolean => c === undefined || c === 0 || isBlank(c) || isBreak(c);
const isPrintable = (c: number): boolean =>
  c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);

export interface ScalarAnalysis {
  multiline: boolean;
  flowPlainAllowed: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

/** yaml_emitter_analyze_scalar. */
export function analyzeScalar(value: string): ScalarAnalysis {
  const cps = [...value].map((ch) => ch.codePointAt(0)!);
  if (cps.length === 0) {
    return { multiline: false, flowPlainAllowed: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let tabCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  if (value.startsWith('---') || value.startsWith('...')) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    const followedByWhitespace = i + 1 >= cps.length || isBlank(cps[i + 1]);
    const ch = String.fromCodePoint(c);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (ch === '?' || ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === '-') {
        if (followedByWhitespace) {
          flowIndicators = true;
          blockIndicators = true;
        }
      }
    } else if (',?[]{}'.includes(ch)) {
      flowIndicators = true;
    } else if (ch === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (ch === '#' && precededByWhitespace) {
      flowIndicators = true;
      blockIndicators = true;
    }
    if (c === 0x09) tabCharacters = true;
    else if (!isPrintable(c)) specialCharacters = true;
    if (isSpace(c)) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankz(c);
  }
  const a: ScalarAnalysis = { multiline: lineBreaks, flowPlainAllowed: true, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.flowPlainAllowed = a.blockPlainAllowed = false;
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) a.flowPlainAllowed = a.blockPlainAllowed = a.singleQuotedAllowed = false;
  if (spaceBreak || tabCharacters || specialCharacters) a.flowPlainAllowed = a.blockPlainAllowed = a.singleQuotedAllowed = false;
  if (spaceBreak || specialCharacters) a.blockAllowed = false;
  if (lineBreaks) a.flowPlainAllowed = a.blockPlainAllowed = false;
  if (flowIndicators) a.flowPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

/** yaml_emitter_select_scalar_style for an untagged (implicit) scalar. */
export function selectScalarStyle(
  style: ScalarStyle,
  value: string,
  a: ScalarAnalysis,
  context: { flowLevel: number; simpleKey: boolean },
): ScalarStyle {
  if (context.simpleKey && a.multiline) style = 'double';
  if (style === 'plain') {
    if ((context.flowLevel > 0 && !a.flowPlainAllowed) || (context.flowLevel === 0 && !a.blockPlainAllowed)) style = 'single';
    if (value.length === 0 && (context.flowLevel > 0 || context.simpleKey)) style = 'single';
  }
  if (style === 'single' && !a.singleQuotedAllowed) style = 'double';
  if ((style === 'literal' || style === 'folded') && (!a.blockAllowed || context.flowLevel > 0 || context.simpleKey)) style = 'double';
  return style;
}

const BEST_INDENT_DEFAULT = 4;

class Emitter {
  private out = '';
  private state: State = 'stream-start';
  private states: State[] = [];
  private events: YamlEvent[] = [];
  private head = 0;
  private indent = -1;
  private indents: number[] = [];
  private flowLevel = 0;
  private rootContext = false;
  private sequenceContext = false;
  private mappingContext = false;
  private simpleKeyContext = false;
  private column = 0;
  private whitespace = true;
  private indention = true;
  private openEnded = false;
  private footIndent = -1;
  private tag = '';
  private scalar: { value: string; analysis: ScalarAnalysis; style: ScalarStyle } | undefined;
  private headComment = '';
  private lineComment = '';
  private footComment = '';
  private tailComment = '';
  private keyLineComment = '';

  constructor(private readonly bestIndent: number) {}

  run(events: YamlEvent[]): string {
    this.events = events;
    for (this.head = 0; this.head < events.length; this.head++) {
      const event = events[this.head];
      this.analyzeEvent(event);
      this.stateMachine(event);
    }
    return this.out;
  }

  // ---- output primitives

  private put(ch: string): void {
    this.out += ch;
    this.column++;
  }

  private putBreak(): void {
    this.out += '\n';
    this.column = 0;
    this.indention = true;
  }

  private write(ch: string): void {
    this.out += ch;
    this.column++;
  }

  private writeAll(s: string): void {
    for (const ch of s) this.write(ch);
  }

  private writeBreak(ch: string): void {
    if (ch === '\n') this.putBreak();
    else {
      this.write(ch);
      this.column = 0;
      this.indention = true;
    }
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    if (this.footIndent === indent) this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.footIndent = -1;
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    this.writeAll(indicator);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
    this.openEnded = false;
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? this.bestIndent : 0;
    else if (!indentless) {
      // go-yaml: the first indent inside a sequence only skips the "- " indicator.
      if (this.states[this.states.length - 1] === 'block-sequence-item') this.indent += 2;
      else this.indent = this.bestIndent * Math.floor((this.indent + this.bestIndent) / this.bestIndent);
    }
  }

  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  private popState(): void {
    this.state = this.states.pop()!;
  }

  // ---- comments

  private writeComment(comment: string): void {
    let breaks = false;
    let pound = false;
    for (const ch of comment) {
      if (isBreak(ch.codePointAt(0))) {
        this.writeBreak(ch);
        breaks = true;
        pound = false;
      } else {
        if (breaks) this.writeIndent();
        if (!pound) {
          if (ch !== '#') {
            this.put('#');
            this.put(' ');
          }
          pound = true;
        }
        this.write(ch);
        this.indention = false;
        breaks = false;
      }
    }
    if (!breaks) this.putBreak();
    this.whitespace = true;
  }

  private processHeadComment(): void {
    if (this.tailComment) {
      this.writeIndent();
      this.writeComment(this.tailComment);
      this.tailComment = '';
      this.footIndent = Math.max(this.indent, 0);
    }
    if (!this.headComment) return;
    this.writeIndent();
    this.writeComment(this.headComment);
    this.headComment = '';
  }

  /** `linebreak`: go-yaml v3.0.4 ends a block scalar's header line here even without a comment. */
  private processLineComment(linebreak = false): void {
    if (!this.lineComment) {
      if (linebreak) this.putBreak();
      return;
    }
    if (!this.whitespace) this.put(' ');
    this.writeComment(this.lineComment);
    this.lineComment = '';
  }

  private processFootComment(): void {
    if (!this.footComment) return;
    this.writeIndent();
    this.writeComment(this.footComment);
    this.footComment = '';
    this.footIndent = Math.max(this.indent, 0);
  }

  // ---- events

  private analyzeEvent(event: YamlEvent): void {
    this.tag = '';
    this.scalar = undefined;
    if (event.head) this.headComment = event.head;
    if (event.line) this.lineComment = event.line;
    if (event.foot) this.footComment = event.foot;
    if (event.tail) this.tailComment = event.tail;
    if (event.type === 'scalar') {
      this.tag = event.tag ?? '';
      this.scalar = { value: event.value, analysis: analyzeScalar(event.value), style: event.style };
    } else if (event.type === 'sequence-start' || event.type === 'mapping-start') {
      this.tag = event.tag ?? '';
    }
  }

  private stateMachine(event: YamlEvent): void {
    switch (this.state) {
      case 'stream-start':
        return this.emitStreamStart(event);
      case 'first-document-start':
        return this.emitDocumentStart(event, true);
      case 'document-start':
        return this.emitDocumentStart(event, false);
      case 'document-content':
        return this.emitDocumentContent(event);
      case 'document-end':
        return this.emitDocumentEnd(event);
      case 'flow-sequence-first-item':
        return this.emitFlowSequenceItem(event, true, false);
      case 'flow-sequence-trail-item':
        return this.emitFlowSequenceItem(event, false, true);
      case 'flow-sequence-item':
        return this.emitFlowSequenceItem(event, false, false);
      case 'flow-mapping-first-key':
        return this.emitFlowMappingKey(event, true, false);
      case 'flow-mapping-trail-key':
        return this.emitFlowMappingKey(event, false, true);
      case 'flow-mapping-key':
        return this.emitFlowMappingKey(event, false, false);
      case 'flow-mapping-simple-value':
        return this.emitFlowMappingValue(event, true);
      case 'flow-mapping-value':
        return this.emitFlowMappingValue(event, false);
      case 'block-sequence-first-item':
        return this.emitBlockSequenceItem(event, true);
      case 'block-sequence-item':
        return this.emitBlockSequenceItem(event, false);
      case 'block-mapping-first-key':
        return this.emitBlockMappingKey(event, true);
      case 'block-mapping-key':
        return this.emitBlockMappingKey(event, false);
      case 'block-mapping-simple-value':
        return this.emitBlockMappingValue(event, true);
      case 'block-mapping-value':
        return this.emitBlockMappingValue(event, false);
      case 'end':
        throw new Error('YAML emitter: expected nothing after STREAM-END');
    }
  }

  private emitStreamStart(event: YamlEvent): void {
    if (event.type !== 'stream-start') throw new Error('YAML emitter: expected STREAM-START');
    this.indent = -1;
    this.column = 0;
    this.whitespace = true;
    this.indention = true;
    this.footIndent = -1;
    this.state = 'first-document-start';
  }

  private emitDocumentStart(event: YamlEvent, first: boolean): void {
    if (event.type === 'document-start') {
      const implicit = event.implicit && first;
      if (!implicit) {
        this.writeIndent();
        this.writeIndicator('---', true, false, false);
        this.writeIndent();
      }
      if (this.headComment) {
        this.processHeadComment();
        this.putBreak();
      }
      this.state = 'document-content';
      return;
    }
    if (event.type === 'stream-end') {
      this.state = 'end';
      return;
    }
    throw new Error('YAML emitter: expected DOCUMENT-START or STREAM-END');
  }

  private emitDocumentContent(event: YamlEvent): void {
    this.states.push('document-end');
    this.processHeadComment();
    this.emitNode(event, true, false, false, false);
    this.processLineComment();
    this.processFootComment();
  }

  private emitDocumentEnd(event: YamlEvent): void {
    if (event.type !== 'document-end') throw new Error('YAML emitter: expected DOCUMENT-END');
    // go-yaml forces document foot separation.
    this.footIndent = 0;
    this.processFootComment();
    this.footIndent = -1;
    this.writeIndent();
    if (!event.implicit) {
      this.writeIndicator('...', true, false, false);
      this.writeIndent();
    }
    this.state = 'document-start';
  }

  private emitFlowSequenceItem(event: YamlEvent, first: boolean, trail: boolean): void {
    if (first) {
      this.writeIndicator('[', true, true, false);
      this.increaseIndent(true, false);
      this.flowLevel++;
    }
    if (event.type === 'sequence-end') {
      this.flowLevel--;
      this.popIndent();
      if (this.column === 0) this.writeIndent();
      this.writeIndicator(']', false, false, false);
      this.processLineComment();
      this.processFootComment();
      this.popState();
      return;
    }
    if (!first && !trail) this.writeIndicator(',', false, false, false);
    this.processHeadComment();
    if (this.column === 0) this.writeIndent();
    const trailing = this.lineComment || this.footComment || this.tailComment;
    this.states.push(trailing ? 'flow-sequence-trail-item' : 'flow-sequence-item');
    this.emitNode(event, false, true, false, false);
    if (this.lineComment || this.footComment || this.tailComment) this.writeIndicator(',', false, false, false);
    this.processLineComment();
    this.processFootComment();
  }

  private emitFlowMappingKey(event: YamlEvent, first: boolean, trail: boolean): void {
    if (first) {
      this.writeIndicator('{', true, true, false);
      this.increaseIndent(true, false);
      this.flowLevel++;
    }
    if (event.type === 'mapping-end') {
      if ((this.headComment || this.footComment || this.tailComment) && !first && !trail) this.writeIndicator(',', false, false, false);
      this.processHeadComment();
      this.flowLevel--;
      this.popIndent();
      this.writeIndicator('}', false, false, false);
      this.processLineComment();
      this.processFootComment();
      this.popState();
      return;
    }
    if (!first && !trail) this.writeIndicator(',', false, false, false);
    this.processHeadComment();
    if (this.column === 0) this.writeIndent();
    if (this.checkSimpleKey()) {
      this.states.push('flow-mapping-simple-value');
      this.emitNode(event, false, false, true, true);
      return;
    }
    this.writeIndicator('?', true, false, false);
    this.states.push('flow-mapping-value');
    this.emitNode(event, false, false, true, false);
  }

  private emitFlowMappingValue(event: YamlEvent, simple: boolean): void {
    this.writeIndicator(':', !simple, false, false);
    const trailing = this.lineComment || this.footComment || this.tailComment;
    this.states.push(trailing ? 'flow-mapping-trail-key' : 'flow-mapping-key');
    this.emitNode(event, false, false, true, false);
    if (this.lineComment || this.footComment || this.tailComment) this.writeIndicator(',', false, false, false);
    this.processLineComment();
    this.processFootComment();
  }

  private emitBlockSequenceItem(event: YamlEvent, first: boolean): void {
    if (first) this.increaseIndent(false, false);
    if (event.type === 'sequence-end') {
      this.popIndent();
      this.popState();
      return;
    }
    this.processHeadComment();
    this.writeIndent();
    this.writeIndicator('-', true, false, true);
    this.states.push('block-sequence-item');
    this.emitNode(event, false, true, false, false);
    this.processLineComment();
    this.processFootComment();
  }

  private emitBlockMappingKey(event: YamlEvent, first: boolean): void {
    if (first) this.increaseIndent(false, false);
    this.processHeadComment();
    if (event.type === 'mapping-end') {
      this.popIndent();
      this.popState();
      return;
    }
    this.writeIndent();
    if (this.lineComment) {
      // go-yaml: a line comment on a key is kept and written with the value.
      this.keyLineComment = this.lineComment;
      this.lineComment = '';
    }
    if (this.checkSimpleKey()) {
      this.states.push('block-mapping-simple-value');
      this.emitNode(event, false, false, true, true);
      return;
    }
    this.writeIndicator('?', true, false, true);
    this.states.push('block-mapping-value');
    this.emitNode(event, false, false, true, false);
  }

  private emitBlockMappingValue(event: YamlEvent, simple: boolean): void {
    if (simple) this.writeIndicator(':', false, false, false);
    else {
      this.writeIndent();
      this.writeIndicator(':', true, false, true);
    }
    if (this.keyLineComment) {
      if (event.type === 'scalar') {
        if (!this.lineComment) {
          this.lineComment = this.keyLineComment;
          this.keyLineComment = '';
        }
      } else if (event.type === 'mapping-start' || event.type === 'sequence-start') {
        // An indented block follows: write the key's comment now.
        [this.lineComment, this.keyLineComment] = [this.keyLineComment, this.lineComment];
        this.processLineComment();
        [this.lineComment, this.keyLineComment] = [this.keyLineComment, this.lineComment];
      }
    }
    this.states.push('block-mapping-key');
    this.emitNode(event, false, false, true, false);
    this.processLineComment();
    this.processFootComment();
  }

  private emitNode(event: YamlEvent, root: boolean, sequence: boolean, mapping: boolean, simpleKey: boolean): void {
    this.rootContext = root;
    this.sequenceContext = sequence;
    this.mappingContext = mapping;
    this.simpleKeyContext = simpleKey;
    switch (event.type) {
      case 'scalar':
        return this.emitScalar();
      case 'sequence-start':
        this.processTag();
        this.state = this.flowLevel > 0 || this.checkEmpty('sequence') ? 'flow-sequence-first-item' : 'block-sequence-first-item';
        return;
      case 'mapping-start':
        this.processTag();
        this.state = this.flowLevel > 0 || this.checkEmpty('mapping') ? 'flow-mapping-first-key' : 'block-mapping-first-key';
        return;
      default:
        throw new Error(`YAML emitter: expected SCALAR, SEQUENCE-START or MAPPING-START, got ${event.type}`);
    }
  }

  private checkEmpty(kind: 'sequence' | 'mapping'): boolean {
    const next = this.events[this.head + 1];
    return this.events[this.head].type === `${kind}-start` && next?.type === `${kind}-end`;
  }

  private checkSimpleKey(): boolean {
    const event = this.events[this.head];
    let length = Buffer.byteLength(this.tag);
    if (event.type === 'scalar') {
      if (this.scalar!.analysis.multiline) return false;
      length += Buffer.byteLength(this.scalar!.value);
    } else if (event.type === 'sequence-start') {
      if (!this.checkEmpty('sequence')) return false;
    } else if (event.type === 'mapping-start') {
      if (!this.checkEmpty('mapping')) return false;
    } else return false;
    return length <= 128;
  }

  private processTag(): void {
    if (!this.tag) return;
    if (!this.whitespace) this.put(' ');
    this.writeAll(this.tag);
    this.whitespace = false;
    this.indention = false;
  }

  private emitScalar(): void {
    const s = this.scalar!;
    s.style = selectScalarStyle(s.style, s.value, s.analysis, { flowLevel: this.flowLevel, simpleKey: this.simpleKeyContext });
    this.processTag();
    this.increaseIndent(true, false);
    const allowBreaks = !this.simpleKeyContext;
    switch (s.style) {
      case 'plain':
        this.writePlain(s.value);
        break;
      case 'single':
        this.writeSingleQuoted(s.value, allowBreaks);
        break;
      case 'double':
        this.writeDoubleQuoted(s.value);
        break;
      case 'literal':
        this.writeLiteral(s.value);
        break;
      case 'folded':
        this.writeFolded(s.value);
        break;
    }
    this.popIndent();
    this.popState();
  }

  // ---- scalar writers (the line width is unlimited, so no folding at spaces)

  private writePlain(value: string): void {
    if (value.length > 0 && !this.whitespace) this.put(' ');
    let breaks = false;
    for (const ch of value) {
      const c = ch.codePointAt(0)!;
      if (isSpace(c)) this.write(ch);
      else if (isBreak(c)) {
        if (!breaks && ch === '\n') this.putBreak();
        this.writeBreak(ch);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.write(ch);
        this.indention = false;
        breaks = false;
      }
    }
    if (value.length > 0) this.whitespace = false;
    this.indention = false;
    if (this.rootContext) this.openEnded = true;
  }

  private writeSingleQuoted(value: string, _allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    let breaks = false;
    for (const ch of value) {
      const c = ch.codePointAt(0)!;
      if (isSpace(c)) this.write(ch);
      else if (isBreak(c)) {
        if (!breaks && ch === '\n') this.putBreak();
        this.writeBreak(ch);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (ch === "'") this.put("'");
        this.write(ch);
        this.indention = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDoubleQuoted(value: string): void {
    this.writeIndicator('"', true, false, false);
    // go-yaml's is_bom looks at the start of the value for every character.
    const bom = value.codePointAt(0) === 0xfeff;
    for (const ch of value) {
      const c = ch.codePointAt(0)!;
      if (!isPrintable(c) || bom || isBreak(c) || ch === '"' || ch === '\\') {
        this.put('\\');
        const short: Record<number, string> = {
          0x00: '0', 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x1b: 'e',
          0x22: '"', 0x5c: '\\', 0x85: 'N', 0xa0: '_', 0x2028: 'L', 0x2029: 'P',
        };
        if (short[c] !== undefined) this.put(short[c]);
        else if (c <= 0xff) this.writeAll('x' + c.toString(16).toUpperCase().padStart(2, '0'));
        else if (c <= 0xffff) this.writeAll('u' + c.toString(16).toUpperCase().padStart(4, '0'));
        else this.writeAll('U' + c.toString(16).toUpperCase().padStart(8, '0'));
      } else this.write(ch);
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeBlockScalarHints(value: string): void {
    const cps = [...value].map((ch) => ch.codePointAt(0)!);
    if (isSpace(cps[0]) || isBreak(cps[0])) this.writeIndicator(String(this.bestIndent), false, false, false);
    this.openEnded = false;
    let chomp = '';
    if (cps.length === 0) chomp = '-';
    else {
      const last = cps.length - 1;
      if (!isBreak(cps[last])) chomp = '-';
      else if (last === 0) {
        chomp = '+';
        this.openEnded = true;
      } else if (isBreak(cps[last - 1])) {
        chomp = '+';
        this.openEnded = true;
      }
    }
    if (chomp) this.writeIndicator(chomp, false, false, false);
  }

  private writeLiteral(value: string): void {
    this.writeIndicator('|', true, false, false);
    this.writeBlockScalarHints(value);
    this.processLineComment(true);
    this.whitespace = true;
    let breaks = true;
    for (const ch of value) {
      if (isBreak(ch.codePointAt(0))) {
        this.writeBreak(ch);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.write(ch);
        this.indention = false;
        breaks = false;
      }
    }
  }

  private writeFolded(value: string): void {
    this.writeIndicator('>', true, false, false);
    this.writeBlockScalarHints(value);
    this.processLineComment(true);
    this.whitespace = true;
    const cps = [...value];
    let breaks = true;
    let leadingSpaces = true;
    for (let i = 0; i < cps.length; i++) {
      const ch = cps[i];
      if (isBreak(ch.codePointAt(0))) {
        if (!breaks && !leadingSpaces && ch === '\n') {
          let k = 0;
          while (isBreak(cps[k]?.codePointAt(0))) k++;
          if (!isBlankz(cps[k]?.codePointAt(0))) this.putBreak();
        }
        this.writeBreak(ch);
        breaks = true;
      } else {
        if (breaks) {
          this.writeIndent();
          leadingSpaces = isBlank(ch.codePointAt(0));
        }
        this.write(ch);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

/** Runs go-yaml's emitter over a stream of events (STREAM-START … STREAM-END). */
export function emitEvents(events: YamlEvent[], indent = BEST_INDENT_DEFAULT): string {
  return new Emitter(indent < 2 || indent > 9 ? 2 : indent).run(events);
}
