#!/usr/bin/env python3
"""Checks that Kappa's layers include only downwards.

Every folder under kappa/ is a layer; a file in a layer may include headers of its own
layer and of the layers below it, never above. The order is kappa/CMakeLists.txt's
KAPPA_LAYERS list, which this script reads, so there is one list to keep. The public
headers at kappa/ itself (kappa.h, kafka.h, nexmark.h, testing.h) are the top; example
jobs (examples/) may include nothing of Kappa but those.

  tests/layering_test.py SOURCE_DIR    exit 1 and one line per bad edge: FILE:LINE: ...
  tests/layering_test.py --self-test   checks the checker on a tree with a known bad edge
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"(kappa/[^"]+)"')
LAYERS_LINE = re.compile(r'set\(KAPPA_LAYERS\s+([^)]*)\)')


def read_layers(root):
    with open(os.path.join(root, 'kappa', 'CMakeLists.txt')) as f:
        m = LAYERS_LINE.search(f.read())
    if not m:
        raise SystemExit('layering: kappa/CMakeLists.txt has no set(KAPPA_LAYERS ...)')
    return m.group(1).split()


def layer_of(path, layers):
    """The layer index of a header path like kappa/state/backend.h; None for kappa/x.h."""
    parts = path.split('/')
    if len(parts) >= 3 and parts[0] == 'kappa':
        if parts[1] not in layers:
            return 'unknown'
        return layers.index(parts[1])
    return None


def check(root):
    layers = read_layers(root)
    public = {'kappa/' + f for f in os.listdir(os.path.join(root, 'kappa')) if f.endswith('.h')}
    problems = []
    for top in ('kappa', 'examples'):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(('.h', '.cc')):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                own = layer_of(rel, layers) if top == 'kappa' else None
                with open(full, errors='replace') as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        inc = m.group(1)
                        target = layer_of(inc, layers)
                        where = f'{rel}:{lineno}'
                        if target == 'unknown':
                            problems.append(f'{where}: includes {inc}, which is in no layer of KAPPA_LAYERS')
                        elif top == 'examples':
                            if inc not in public:
                                problems.append(f'{where}: an example includes {inc}; examples include only '
                                                f'the public headers ({", ".join(sorted(public))})')
                        elif own is None:
                            pass  # a public header: the top, may include any layer
                        elif own == 'unknown':
                            problems.append(f'{where}: {rel} is in no layer of KAPPA_LAYERS')
                        elif target is None:
                            problems.append(f'{where}: includes the public header {inc}; layers include '
                                            f'each other, not the umbrella headers built on them')
                        elif target > own:
                            problems.append(f'{where}: {layers[own]} includes {inc} from {layers[target]}, '
                                            f'a layer above it (order: {" → ".join(layers)})')
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, 'kappa', 'base'))
        os.makedirs(os.path.join(root, 'kappa', 'state'))
        os.makedirs(os.path.join(root, 'examples'))
        with open(os.path.join(root, 'kappa', 'CMakeLists.txt'), 'w') as f:
            f.write('set(KAPPA_LAYERS base state)\n')
        with open(os.path.join(root, 'kappa', 'kappa.h'), 'w') as f:
            f.write('#include "kappa/state/s.h"\n')
        with open(os.path.join(root, 'kappa', 'state', 's.h'), 'w') as f:
            f.write('#include "kappa/base/b.h"\n')  # downwards: fine
        with open(os.path.join(root, 'kappa', 'base', 'b.h'), 'w') as f:
            f.write('// base\n#include <string>\n#include "kappa/state/s.h"\n')  # upwards: line 3
        with open(os.path.join(root, 'examples', 'job.cc'), 'w') as f:
            f.write('#include "kappa/kappa.h"\n#include "kappa/base/b.h"\n')  # internal: line 2
        problems = check(root)
    expected = ['kappa/base/b.h:3: base includes kappa/state/s.h from state',
                'examples/job.cc:2: an example includes kappa/base/b.h']
    for e in expected:
        if not any(p.startswith(e) for p in problems):
            print(f'self-test: expected a line starting with "{e}", got: {problems}')
            return 1
    if len(problems) != len(expected):
        print(f'self-test: expected {len(expected)} problems, got {problems}')
        return 1
    print('self-test: the checker reports an upward include and an example using internals, by file and line')
    return 0


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f'layering: {len(problems)} include(s) against the layer order')
        return 1
    print('layering: every #include under kappa/ and examples/ points down the layers')
    return 0


if __name__ == '__main__':
    sys.exit(main())
