#!/usr/bin/env python3
"""Checks that the C++ snippets of a guide compile against the public headers.

docs/api.md promises that every snippet compiles. This takes the guide's ```cpp blocks in
order, as one translation unit (later snippets use the types of earlier ones), and
compiles it with the compiler and include directories the library is built with. A block
that is a fragment (statements out of a function, a second main) is marked with
`<!-- fragment -->` on the line before its fence and left out. On failure it prints the
compiler's errors with each line mapped back to the guide.

  docs_snippets_test.py --cxx CXX --includes 'DIR|DIR' [--defines 'A=1|B'] DOC
  docs_snippets_test.py --self-test --cxx CXX --includes 'DIR|DIR'
      checks the checker: a guide with a snippet that uses an unknown name must fail
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def snippets(text):
    """[(first line of the block in the guide, code)] of the compiled ```cpp blocks."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == '```cpp':
            prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), '')
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != '```':
                end += 1
            if prev != '<!-- fragment -->':
                out.append((start + 1, '\n'.join(lines[start:end])))
            i = end
        i += 1
    return out


def compile_guide(cxx, includes, defines, doc):
    """(ok, message) for the guide at `doc`."""
    with open(doc) as f:
        blocks = snippets(f.read())
    if not blocks:
        return False, f'{doc}: no ```cpp blocks found'
    source = []
    origin = []  # translation unit line (1-based) -> guide line
    for doc_line, code in blocks:
        source.append(f'// {doc}:{doc_line}')
        origin.append(doc_line - 1)
        for k, line in enumerate(code.splitlines()):
            source.append(line)
            origin.append(doc_line + k)
    with tempfile.TemporaryDirectory() as tmp:
        tu = os.path.join(tmp, 'snippets.cc')
        with open(tu, 'w') as f:
            f.write('\n'.join(source) + '\n')
        cmd = [cxx, '-std=c++20', '-fsyntax-only', '-Wall', '-Wno-unused-variable',
               '-Wno-unused-but-set-variable', '-Wno-unused-function']
        # The system directories are searched anyway; naming them with -I would break
        # libstdc++'s #include_next.
        cmd += [f'-I{d}' for d in dict.fromkeys(includes) if d and d not in ('/usr/include', '/usr/local/include')]
        cmd += [f'-D{d}' for d in defines if d]
        cmd.append(tu)
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode == 0:
            return True, f'{doc}: {len(blocks)} snippets compile'

        def to_doc(m):
            n = int(m.group(1))
            return f'{doc}:{origin[n - 1] if 0 < n <= len(origin) else n}:'
        errors = re.sub(re.escape(tu) + r':(\d+):', to_doc, run.stderr)
        return False, f'{doc}: the snippets do not compile:\n{errors}'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--cxx', required=True)
    p.add_argument('--includes', default='')
    p.add_argument('--defines', default='')
    p.add_argument('--self-test', action='store_true')
    p.add_argument('doc', nargs='?')
    a = p.parse_args()
    includes = a.includes.split('|') if a.includes else []
    defines = a.defines.split('|') if a.defines else []
    if a.self_test:
        with tempfile.TemporaryDirectory() as tmp:
            good = os.path.join(tmp, 'good.md')
            bad = os.path.join(tmp, 'bad.md')
            with open(good, 'w') as f:
                f.write('```cpp\nint Twice(int x) { return 2 * x; }\n```\n\n<!-- fragment -->\n'
                        '```cpp\nTwice(no_such_name);\n```\n')
            with open(bad, 'w') as f:
                f.write('Text.\n\n```cpp\nint Twice(int x) { return 2 * x; }\n```\n\n'
                        '```cpp\nint Four() { return Twice(no_such_name); }\n```\n')
            ok, message = compile_guide(a.cxx, includes, defines, good)
            if not ok:
                sys.exit(f'self-test: a guide whose only bad block is a fragment failed:\n{message}')
            ok, message = compile_guide(a.cxx, includes, defines, bad)
            if ok or f'{bad}:8:' not in message or 'no_such_name' not in message:
                sys.exit(f'self-test: a snippet with an unknown name was not reported at its line:\n{message}')
        print('docs_snippets: self-test passed')
        return
    if not a.doc:
        sys.exit('docs_snippets: name the guide to check, e.g. docs/api.md')
    ok, message = compile_guide(a.cxx, includes, defines, a.doc)
    print(message)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
