#!/usr/bin/env python3
"""Checks that a public header does not reach the libraries Kappa keeps to itself.

A job includes "kappa/kappa.h" (and the opt-in "kappa/testing.h", ...); none of the
headers of librdkafka, RocksDB, protobuf or simdjson may be among what that pulls in, so
that jobs compile against Kappa's API alone and those libraries stay private to Kappa's
.cc files. The check preprocesses the header with the compiler and flags the library is
built with (g++ -H lists every header opened, indented by depth) and, for each library
found, prints the include chain that reaches it first.

  public_header_test.py --cxx CXX --includes 'DIR|DIR' [--defines 'A=1|B'] \\
      [--allow LIB ...] HEADER
      exit 1 and one line per library reached (its include chain); a library named by
      --allow is reported but does not fail the check
  public_header_test.py --self-test --cxx CXX --includes 'DIR|DIR' [--defines ...]
      checks the checker: a header that includes simdjson.h through another must fail,
      naming the chain
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# Library name -> what its headers' paths contain.
FORBIDDEN = {
    'rdkafka': re.compile(r'(^|/)librdkafka/|(^|/)rdkafka(_mock)?\.h$'),
    'rocksdb': re.compile(r'(^|/)rocksdb/'),
    'protobuf': re.compile(r'(^|/)google/protobuf/'),
    'simdjson': re.compile(r'(^|/)simdjson(\.h$|/)'),
}


def include_tree(cxx, includes, defines, header, source_dir):
    """[(depth, path)] of every header the compiler opens for `header`, in order."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, 'probe.cc')
        with open(probe, 'w') as f:
            f.write(f'#include "{header}"\n')
        cmd = [cxx, '-std=c++20', '-E', '-H', '-o', os.devnull]
        cmd += [f'-I{d}' for d in includes]
        cmd += [f'-D{d}' for d in defines]
        cmd.append(probe)
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=source_dir)
    if run.returncode != 0:
        sys.exit(f'public_header: preprocessing {header} failed:\n{run.stderr}')
    tree = []
    for line in run.stderr.splitlines():
        m = re.match(r'^(\.+) (\S.*)$', line)
        if m:
            tree.append((len(m.group(1)), os.path.normpath(m.group(2))))
    return tree


def shorten(path, roots):
    for root in roots:
        if root and path.startswith(root.rstrip('/') + '/'):
            return path[len(root.rstrip('/')) + 1:]
    return path


def find_chains(tree):
    """{library: [header, ..., the library's first header]}, the first chain to each."""
    chains = {}
    stack = []
    for depth, path in tree:
        del stack[depth - 1:]
        stack.append(path)
        for lib, pattern in FORBIDDEN.items():
            if lib not in chains and pattern.search(path):
                chains[lib] = list(stack)
    return chains


def check(cxx, includes, defines, header, allow, source_dir):
    tree = include_tree(cxx, includes, defines, header, source_dir)
    if not tree:
        sys.exit(f'public_header: the compiler listed no headers for {header}; is -H supported?')
    roots = sorted(includes, key=len, reverse=True)
    chains = find_chains(tree)
    failed = False
    for lib in FORBIDDEN:
        if lib not in chains:
            continue
        chain = ' -> '.join(shorten(p, roots) for p in chains[lib])
        if lib in allow:
            print(f'note: {header} reaches {lib} (allowed for now by --allow): {chain}')
        else:
            print(f'{header} reaches {lib}, which only Kappa\'s .cc files may include: {chain}')
            failed = True
    if not failed:
        print(f'{header}: {len(tree)} headers, none of {", ".join(l for l in FORBIDDEN if l not in allow)}')
    return failed


def self_test(cxx, includes, defines):
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, 'kappa'))
        with open(os.path.join(tmp, 'kappa', 'leaky.h'), 'w') as f:
            f.write('#include "kappa/inner.h"\n')
        with open(os.path.join(tmp, 'kappa', 'inner.h'), 'w') as f:
            f.write('#include <string>\n#include "simdjson.h"\n')
        with open(os.path.join(tmp, 'kappa', 'clean.h'), 'w') as f:
            f.write('#include <string>\n')
        dirs = [tmp] + includes
        leaky_fails = check(cxx, dirs, defines, 'kappa/leaky.h', set(), tmp)
        clean_fails = check(cxx, dirs, defines, 'kappa/clean.h', set(), tmp)
        allowed_fails = check(cxx, dirs, defines, 'kappa/leaky.h', {'simdjson'}, tmp)
    if not leaky_fails:
        sys.exit('self-test: a header that includes simdjson.h passed the check')
    if clean_fails:
        sys.exit('self-test: a header with only standard includes failed the check')
    if allowed_fails:
        sys.exit('self-test: --allow simdjson did not let simdjson through')
    print('self-test: the check catches simdjson.h two levels down and names the chain')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cxx', required=True)
    parser.add_argument('--includes', default='', help='include directories separated by |')
    parser.add_argument('--defines', default='', help='preprocessor definitions separated by |')
    parser.add_argument('--allow', action='append', default=[], choices=sorted(FORBIDDEN))
    parser.add_argument('--source-dir', default='.')
    parser.add_argument('--self-test', action='store_true')
    parser.add_argument('header', nargs='?')
    args = parser.parse_args()
    # Transitive usage requirements repeat directories (every imported target adds
    # /usr/include): keep the first of each, in order, as the compiler would.
    includes = list(dict.fromkeys(d for d in args.includes.split('|') if d))
    defines = [d for d in args.defines.split('|') if d]
    if args.self_test:
        self_test(args.cxx, includes, defines)
        return 0
    if not args.header:
        parser.error('give a header, e.g. kappa/kappa.h')
    return 1 if check(args.cxx, includes, defines, args.header, set(args.allow), args.source_dir) else 0


if __name__ == '__main__':
    sys.exit(main())
