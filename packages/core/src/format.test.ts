import { describe, expect, it } from 'vitest';
import { cellWidth, GO_JSON, goJson, goTemplate, renderFormat, tabwrite } from './format';
import { usageThrown as usage } from './test-support';

const render = (source: string, data: unknown) => goTemplate(source).execute(data);


// The cases of docker/cli's templates/templates_test.go, with its expected values.
describe('goTemplate: docker/cli template tests', () => {
  it('json of a field keeps <, >, & (GitHub #32120)', () => {
    expect(render('{{json .Ports}}', { Ports: '0.0.0.0:2->8/udp' })).toBe('"0.0.0.0:2->8/udp"');
  });
  it('join (split . ":") "/"', () => {
    expect(render('{{join (split . ":") "/"}}', 'text:with:colon')).toBe('text/with/colon');
  });
  it('text around an action', () => {
    expect(render('this is a {{ . }}', 'string')).toBe('this is a string');
  });
  it.each([
    ['{{truncate . 5}}', 'tupx5'],
    ['{{truncate . 25}}', 'tupx5xzf6hvsrhnruz5cr8gwp'],
    ['{{truncate . 30}}', 'tupx5xzf6hvsrhnruz5cr8gwp'],
    ['{{pad . 3 3}}', '   tupx5xzf6hvsrhnruz5cr8gwp   '],
  ])('%s', (template, expected) => {
    expect(render(template, 'tupx5xzf6hvsrhnruz5cr8gwp')).toBe(expected);
    expect(render(template, '')).toBe(''); // pad leaves an empty value empty
    usage(() => render(template, null)); // nil is no string
  });
});

describe('goTemplate: fields, literals, pipelines', () => {
  const row = { ID: 'sha256:abc', Size: '1.2MB', Nested: { Name: 'x' }, Tags: ['a:1', 'b:2'], N: 3 };

  it('reads fields and chains, . and parenthesized pipelines', () => {
    expect(render('{{.ID}} {{.Nested.Name}} {{(.Nested).Name}} {{.N}}', row)).toBe('sha256:abc x x 3');
    expect(render('{{.Tags}} {{join .Tags ","}} {{len .Tags}} {{len .ID}}', row)).toBe('[a:1 b:2] a:1,b:2 2 10');
  });

  it('passes a pipeline value as the last argument', () => {
    expect(render('{{.ID | upper}}|{{.ID | json}}|{{"Go templates" | title}}', row)).toBe('SHA256:ABC|"sha256:abc"|Go Templates');
    // Last, not first: truncate gets (6, .ID) and 6 is no string, as in docker.
    expect(usage(() => render('{{.ID | truncate 6}}', row)).message).toMatch(/truncate: expected string; found 6$/);
    expect(render('{{upper .ID | lower}}', row)).toBe('sha256:abc');
  });

  it('reads Go literals: strings with escapes, raw strings, numbers, characters, booleans', () => {
    expect(render('{{"a\\tb\\u00e9\\x41\\101"}}|{{`r\\t`}}', {})).toBe('a\tbéAA|r\\t');
    expect(render("{{print 0x10 017 0b11 1_000 -3 1.5 'a' true}}", {})).toBe('16 15 3 1000 -3 1.5 97 true');
    expect(render('{{truncate "abcdef" 2.0}}', {})).toBe('ab'); // 2.0 is an integer constant in Go
  });

  it('print and println space operands as fmt.Sprint and fmt.Sprintln do', () => {
    expect(render('{{print "a" "b" 1 2 "c"}}', {})).toBe('ab1 2c');
    expect(render('{{println "a" "b" 1}}', {})).toBe('a b 1\n');
    expect(render('{{print .ID 3 4 (len .ID) "x" nil}}|{{print nil}}', row)).toBe('sha256:abc3 4 10x<nil>|<nil>');
  });

  it('drops comments and trims around - markers', () => {
    expect(render('a {{/* note */}}b', {})).toBe('a b');
    expect(render('a  {{- .ID -}}  b', row)).toBe('asha256:abcb');
    expect(render('a {{- /* x */ -}} b', {})).toBe('ab');
    expect(render('{{-3}}', {})).toBe('-3'); // a negative number, not a trim marker
  });

  it('title, upper and lower map rune by rune as Go does', () => {
    expect(render('{{title .}}', "hello wOrld-x_y don't 1a")).toBe("Hello WOrld-X_y Don'T 1a");
    expect(render('{{upper .}}|{{lower .}}', 'straße ÉTÉ')).toBe('STRAßE ÉTÉ|straße été');
  });

  it('truncate counts bytes, as Go slices strings', () => {
    expect(render('{{truncate . 3}}', 'abcdef')).toBe('abc');
    expect(render('{{truncate . 4}}', 'aé')).toBe('aé'); // 3 bytes < 4
  });

  it('split on "" splits into characters, and join needs a list of strings', () => {
    expect(render('{{split . ""}}', 'aé')).toBe('[a é]');
    expect(usage(() => render('{{join .N ","}}', row)).message).toContain('expected []string; got int');
  });
});

describe('goJson', () => {
  it('escapes as encoding/json: control characters short or \\u00xx, U+2028', () => {
    expect(goJson('a"b\\c\n\t\b\f\r\x01\u2028<>&\x7f')).toBe('"a\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u2028<>&\x7f"');
  });
  it('escapes <, > and & when asked (json.Marshal)', () => {
    expect(goJson('<missing> && a > b', { escapeHTML: true })).toBe('"\\u003cmissing\\u003e \\u0026\\u0026 a \\u003e b"');
  });
  it('sorts map keys, and lets a value marshal itself', () => {
    expect(goJson({ b: 1, a: ['x', null], c: { z: true, y: 'q' } })).toBe('{"a":["x",null],"b":1,"c":{"y":"q","z":true}}');
    const row = { B: '1' };
    Object.defineProperty(row, GO_JSON, { value: () => '{"own":true}' });
    expect(render('{{json .}}', row)).toBe('{"own":true}');
    expect(render('{{json .B}}', row)).toBe('"1"');
  });
});

describe('goTemplate errors: one line, exit 2, naming the template and the problem', () => {
  it.each([
    ['{{.Foo}}', /^--format "\{\{\.Foo\}\}": can't evaluate field Foo \(allowed: \.ID, \.Size\)$/],
    ['{{.ID.X}}', /can't evaluate field X in type string/],
    ['{{foo .ID}}', /function "foo" not defined \(allowed: json, split, join, title, lower, upper, pad, truncate, print, println, len\)/],
    ['{{printf "%s" .ID}}', /function "printf" is not supported/],
    ['{{if .ID}}x{{end}}', /\{\{if\}\} is not supported/],
    ['{{range .}}{{end}}', /\{\{range\}\} is not supported/],
    ['{{$x := 1}}', /variables \(\$\) are not supported/],
    ['{{.ID', /unclosed action$/],
    ['{{}}', /missing value for command/],
    ['{{nil}}', /nil is not a command/],
    ['{{"abc}}', /unterminated quoted string/],
    ['{{.ID | "x"}}', /non executable command in pipeline stage 2/],
    ['{{.ID .Size}}', /can't give argument to non-function \.ID/],
    ['{{upper}}', /wrong number of args for upper: want 1 got 0/],
    ['{{upper .ID .ID}}', /wrong number of args for upper: want 1 got 2/],
    ['{{upper 3}}', /upper: expected string; found 3/],
    ['{{truncate .ID "a"}}', /truncate: expected integer; found "a"/],
    ['{{truncate .ID 1.5}}', /truncate: expected integer; found 1\.5/],
    ['{{"a\\q"}}', /unknown escape sequence/],
    ['{{/* x */ .ID}}', /comment ends before closing delimiter/],
    ['a\n{{.ID}}\n{{bad}}', /^--format "a\\n\{\{\.ID\}\}\\n\{\{bad\}\}": line 3: function "bad" not defined/],
  ])('%s', (template, message) => {
    expect(usage(() => render(template, { ID: 'x', Size: '1B' })).message).toMatch(message);
  });

  it('names the option it was given', () => {
    expect(usage(() => goTemplate('{{', { option: '--template' })).message).toMatch(/^--template "\{\{": /);
  });
});

describe('tabwrite (Go text/tabwriter)', () => {
  it('lays out columns as blocks of adjacent lines (the package doc example)', () => {
    // aaaa|bbb|d / aa|b|dd / a| / aa|cccc|eee: b and c are distinct columns, d and e are in none.
    expect(tabwrite('aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n', 0, 1)).toBe('aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n');
  });

  it("is docker's: minwidth 10, padding 3, the last cell unpadded", () => {
    expect(tabwrite('IMAGE\tSIZE\tX\nabc\t1.2MB\t\n')).toBe('IMAGE     SIZE      X\nabc       1.2MB     \n');
    expect(tabwrite('a-long-cell-here\tb\n')).toBe('a-long-cell-here   b\n');
  });

  it('counts wide characters twice and combining marks not at all, as go-runewidth', () => {
    expect(cellWidth('日本')).toBe(4);
    expect(cellWidth('e\u0301')).toBe(1);
    expect(tabwrite('日本語\tx\nab\ty\n', 0, 1)).toBe('日本語 x\nab     y\n');
  });
});

describe('renderFormat: docker formatter.Context', () => {
  const header = { ID: 'IMAGE', Size: 'SIZE', CreatedBy: 'CREATED BY' };
  const rows = [
    { ID: 'id1', Size: '0B', CreatedBy: 'RUN <x> && y' },
    { ID: 'id22', Size: '183MB', CreatedBy: '' },
  ];
  for (const row of rows) Object.defineProperty(row, GO_JSON, { value: () => goJson({ ...row }, { escapeHTML: true }) });

  it('one line per row; \\t and \\n escapes; spaces at the ends trimmed', () => {
    expect(renderFormat('  {{.ID}}\\t{{.Size}}\\n ', rows)).toBe('id1\t0B\n\nid22\t183MB\n\n');
  });

  it('table: a header row from the column names, functions left out of it, columns aligned', () => {
    expect(renderFormat('table {{.ID}}\\t{{upper .Size}}\\t{{json .CreatedBy}}', rows, { header })).toBe(
      'IMAGE     SIZE      CREATED BY\nid1       0B        "RUN <x> && y"\nid22      183MB     ""\n',
    );
  });

  it('table: pad applies to the header too; a failing header keeps what came before', () => {
    expect(renderFormat('table {{pad .Size 1 1}}|', rows, { header })).toBe(' SIZE |\n 0B |\n 183MB |\n');
    // json of the whole header map fails in docker (json takes a string there): the header is cut.
    expect(renderFormat('table A{{.ID}}x{{json .}}', rows, { header })).toBe(
      'AIMAGEx\nAid1x{"CreatedBy":"RUN \\u003cx\\u003e \\u0026\\u0026 y","ID":"id1","Size":"0B"}\nAid22x{"CreatedBy":"","ID":"id22","Size":"183MB"}\n',
    );
  });

  it('"json" is {{json .}}, "table" alone is the command default', () => {
    expect(renderFormat('json', rows.slice(1))).toBe('{"CreatedBy":"","ID":"id22","Size":"183MB"}\n');
    expect(renderFormat('table', rows, { header, table: 'table {{.ID}}\t{{.Size}}' })).toBe('IMAGE     SIZE\nid1       0B\nid22      183MB\n');
  });

  it('renders nothing when a row fails: the error, not half the output', () => {
    expect(() => renderFormat('{{.ID}}{{.Nope}}', rows)).toThrow(/can't evaluate field Nope/);
  });
});
