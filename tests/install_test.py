#!/usr/bin/env python3
"""Kappa as a user gets it: installed, a project from `kappa new`, built, tested and run.

From a built tree, this
  1. installs Kappa into a temporary prefix (cmake --install) and checks what is there:
     the public headers, the CMake package, the kappa binary, and no test-only headers;
     packs the same install with cpack -G DEB and checks the package's file list;
  2. runs PREFIX/bin/kappa new into a temporary directory outside the source tree;
  3. configures, builds (-Werror on top of the project's -Wall -Wextra) and ctests that
     project with only the prefix to find Kappa by;
  4. runs the project's binary, `run` and `replay --from earliest`, over a JSON-lines file
     it writes, and checks both outputs against the counts it computes from that input
     (per page and tumbling minute, views up to 5 s out of order still counting, one view
     behind the watermark dropped as late).

  tests/install_test.py --build-dir B --source-dir S --cmake CMAKE --ctest CTEST
                        --generator G [--make-program P] [--launcher ccache] [--cxx CXX]
"""
import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

WINDOW_MS = 60_000
OUT_OF_ORDERNESS_MS = 5_000


def run(cmd, cwd=None, env=None, expect_ok=True):
    print('+', ' '.join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if expect_ok and p.returncode != 0:
        print(p.stdout)
        raise SystemExit(f'install_test: `{" ".join(cmd)}` exited with {p.returncode} (output above)')
    return p


def make_input(path):
    """Writes a JSON-lines file of page views and returns them.

    Views come mostly in event-time order, some up to 4 s behind the latest (within the
    job's 5 s bound: they count), and one view in a window the watermark has passed, which
    the lateness rule drops (window end - 1 <= the partition's watermark before it, the max
    event time seen - 5 s)."""
    rng = random.Random(7)
    pages = ['/home', '/cart', '/search', '/item/1', '/item/2']
    users = ['ann', 'bob', 'cid', 'dan']
    base = 1_700_000_000_000
    ts = base
    views = []
    for i in range(300):
        ts += rng.randrange(0, 2_000)
        t = ts - rng.randrange(0, 4_000) if i % 7 == 3 else ts
        views.append({'user': rng.choice(users), 'page': rng.choice(pages), 'ts': t})
    # Just before the window that the watermark has reached: that window's end - 1 is at
    # or before the watermark, so the view is late.
    watermark = max(v['ts'] for v in views[:200]) - OUT_OF_ORDERNESS_MS
    views.insert(200, {'user': 'eve', 'page': '/home', 'ts': watermark - watermark % WINDOW_MS - 1})

    if expected_rows(views, WINDOW_MS)[1] != 1:
        raise SystemExit('install_test: the input should hold exactly one late view')
    with open(path, 'w') as f:
        for v in views:
            f.write(json.dumps(v, separators=(',', ':')) + '\n')
    return views


def expected_rows(views, window_ms):
    """The rows page-views must produce over `views` with windows of `window_ms`, and how
    many views the lateness rule drops."""
    counts = collections.Counter()
    max_ts = None
    late = 0
    for v in views:
        watermark = None if max_ts is None else max_ts - OUT_OF_ORDERNESS_MS
        start = v['ts'] - v['ts'] % window_ms
        if watermark is not None and start + window_ms - 1 <= watermark:
            late += 1
        else:
            counts[(v['page'], start)] += 1
        max_ts = v['ts'] if max_ts is None else max(max_ts, v['ts'])
    rows = sorted(json.dumps({'page': p, 'window_start': s, 'window_end': s + window_ms, 'views': n},
                             separators=(',', ':')) for (p, s), n in counts.items())
    return rows, late


def read_rows(path):
    with open(path) as f:
        return sorted(line.rstrip('\n') for line in f if line.strip())


def check_install(prefix, source_dir):
    expected = ['bin/kappa', 'include/kappa/kappa.h', 'include/kappa/testing.h', 'include/kappa/nexmark.h',
                'include/kappa/api/job.h', 'include/kappa/app/job_tester.h', 'include/kappa/cli/cli.h',
                'include/kappa/connectors/collect_sink.h',
                'lib/cmake/Kappa/KappaConfig.cmake', 'lib/cmake/Kappa/KappaConfigVersion.cmake',
                'lib/cmake/Kappa/KappaTargets.cmake', 'lib/libkappa_cli.a']
    if os.path.exists(os.path.join(source_dir, 'kappa', 'kafka.h')):
        expected.append('include/kappa/kafka.h')
    missing = [e for e in expected if not os.path.exists(os.path.join(prefix, e))]
    if missing:
        raise SystemExit(f'install_test: cmake --install left out {", ".join(missing)}')
    for unwanted in ('include/kappa/base/file_test_util.h', 'include/kappa/bench'):
        if os.path.exists(os.path.join(prefix, unwanted)):
            raise SystemExit(f'install_test: {unwanted} is test or benchmark code and must not be installed')
    print('install_test: the prefix holds the headers, the libraries, bin/kappa and lib/cmake/Kappa')


def check_public_headers_compile(prefix, cxx, env):
    """Every public header compiles with only the prefix's include directory: any header one
    of them reaches that the install left out fails here."""
    headers = sorted(f for f in os.listdir(os.path.join(prefix, 'include', 'kappa')) if f.endswith('.h'))
    source = ''.join(f'#include "kappa/{h}"\n' for h in headers)
    p = subprocess.run([cxx or 'c++', '-std=c++20', '-fsyntax-only', '-I', os.path.join(prefix, 'include'),
                        '-x', 'c++', '-'], input=source, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise SystemExit(f'install_test: the installed public headers do not compile alone:\n{p.stdout[:3000]}')
    print(f'install_test: the installed public headers ({", ".join(headers)}) compile against the prefix alone')


def check_package(cmake, build_dir, out_dir, env):
    """cpack -G DEB packs the same install under /usr (skipped without dpkg-deb)."""
    cpack = os.path.join(os.path.dirname(cmake), 'cpack')
    if not shutil.which('dpkg-deb') or not os.path.exists(cpack):
        print('install_test: no dpkg-deb or cpack here; the Debian package is not checked')
        return
    run([cpack, '-G', 'DEB', '--config', os.path.join(build_dir, 'CPackConfig.cmake'), '-B', out_dir], env=env)
    debs = [f for f in os.listdir(out_dir) if f.endswith('.deb')]
    if len(debs) != 1:
        raise SystemExit(f'install_test: cpack -G DEB made {debs} in {out_dir}, expected one .deb')
    listing = run(['dpkg-deb', '-c', os.path.join(out_dir, debs[0])], env=env).stdout
    paths = {line.split()[-1] for line in listing.splitlines() if line.strip()}
    for want in ('./usr/bin/kappa', './usr/include/kappa/kappa.h', './usr/include/kappa/testing.h',
                 './usr/lib/libkappa_cli.a', './usr/lib/cmake/Kappa/KappaConfig.cmake',
                 './usr/lib/cmake/Kappa/KappaTargets.cmake'):
        if want not in paths:
            raise SystemExit(f'install_test: the Debian package {debs[0]} lacks {want}')
    print(f'install_test: {debs[0]} holds the headers, the libraries, the binary and the CMake package')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--source-dir', required=True)
    ap.add_argument('--cmake', required=True)
    ap.add_argument('--ctest', required=True)
    ap.add_argument('--generator', required=True)
    ap.add_argument('--make-program', default='')
    ap.add_argument('--launcher', default='')
    ap.add_argument('--cxx', default='')
    a = ap.parse_args()

    root = tempfile.mkdtemp(prefix='kappa-install-test-')
    source_dir = os.path.realpath(a.source_dir)
    if os.path.realpath(root).startswith(source_dir + os.sep):
        raise SystemExit(f'install_test: the temporary directory {root} is inside the source tree; set TMPDIR')
    print(f'install_test: working in {root} (kept if the test fails)')
    prefix = os.path.join(root, 'prefix')
    project = os.path.join(root, 'work', 'page-views')

    # The project must find Kappa through the prefix alone: no inherited search paths, no
    # package registry. ccache paths relative to the temporary root make reruns hit.
    env = {k: v for k, v in os.environ.items() if k not in ('CMAKE_PREFIX_PATH', 'Kappa_DIR', 'Kappa_ROOT')}
    env['CCACHE_BASEDIR'] = root
    env['CCACHE_NOHASHDIR'] = '1'

    run([a.cmake, '--install', a.build_dir, '--prefix', prefix], env=env)
    check_install(prefix, source_dir)
    check_public_headers_compile(prefix, a.cxx, env)

    check_package(a.cmake, a.build_dir, os.path.join(root, 'package'), env)

    p = run([os.path.join(prefix, 'bin', 'kappa'), 'new', project], cwd=root, env=env)
    print(p.stdout, end='')
    refused = run([os.path.join(prefix, 'bin', 'kappa'), 'new', project], cwd=root, env=env, expect_ok=False)
    if refused.returncode != 2 or 'exists and is not empty' not in refused.stdout:
        raise SystemExit(f'install_test: kappa new over the project should refuse in one line, got '
                         f'{refused.returncode}: {refused.stdout}')

    configure = [a.cmake, '-S', project, '-B', os.path.join(project, 'build'), '-G', a.generator,
                 f'-DCMAKE_PREFIX_PATH={prefix}', '-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF',
                 '-DCMAKE_CXX_FLAGS=-Werror']
    if a.make_program:
        configure.append(f'-DCMAKE_MAKE_PROGRAM={a.make_program}')
    if a.launcher:
        configure.append(f'-DCMAKE_CXX_COMPILER_LAUNCHER={a.launcher}')
    if a.cxx:
        configure.append(f'-DCMAKE_CXX_COMPILER={a.cxx}')
    run(configure, env=env)
    run([a.cmake, '--build', os.path.join(project, 'build'), '-j2'], env=env)
    p = run([a.ctest, '--test-dir', os.path.join(project, 'build'), '--output-on-failure'], env=env)
    if '100% tests passed' not in p.stdout:
        raise SystemExit(f'install_test: the project\'s tests did not all pass:\n{p.stdout}')
    print('install_test: the new project builds with -Wall -Wextra -Werror and its tests pass')

    binary = os.path.join(project, 'build', 'page-views')
    views = make_input(os.path.join(root, 'views.jsonl'))
    expected, _ = expected_rows(views, WINDOW_MS)
    out, replay = os.path.join(root, 'out.jsonl'), os.path.join(root, 'replay.jsonl')
    run([binary, 'run', 'page-views', '--source', f'file:{root}/views.jsonl', '--sink', f'file:{out}', '-p', '2'],
        env=env)
    run([binary, 'replay', 'page-views', '--source', f'file:{root}/views.jsonl', '--from', 'earliest',
         '--sink', f'file:{replay}', '--no-progress'], env=env)
    for name, path in (('run', out), ('replay', replay)):
        rows = read_rows(path)
        if rows != expected:
            raise SystemExit(f'install_test: {name} wrote {len(rows)} rows, expected {len(expected)}:\n'
                             f'missing {sorted(set(expected) - set(rows))[:5]}\n'
                             f'unexpected {sorted(set(rows) - set(expected))[:5]}')
    print(f'install_test: run and replay each wrote the {len(expected)} expected rows')
    p = run([binary, 'diff', f'file:{out}', f'file:{replay}'], env=env)
    if f'outputs are equal: {len(expected)} rows' not in p.stdout:
        raise SystemExit(f'install_test: diff of run and replay said: {p.stdout}')
    print('install_test: the binary\'s own diff finds run and replay equal')

    # The job's window is a parameter: --param window=30s gives half-minute windows.
    half = os.path.join(root, 'half.jsonl')
    run([binary, 'run', 'page-views', '--source', f'file:{root}/views.jsonl', '--sink', f'file:{half}',
         '--param', 'window=30s'], env=env)
    expected_half, _ = expected_rows(views, 30_000)
    if read_rows(half) != expected_half:
        raise SystemExit(f'install_test: --param window=30s wrote {len(read_rows(half))} rows, '
                         f'expected {len(expected_half)}')
    p = run([binary, 'run', 'page-views', '--source', f'file:{root}/views.jsonl', '--sink', f'file:{half}',
             '--param', 'window=half-a-minute'], env=env, expect_ok=False)
    err_lines = [l for l in p.stdout.splitlines() if l.strip()]
    if p.returncode != 2 or len(err_lines) != 1 or 'window' not in err_lines[0]:
        raise SystemExit(f'install_test: a malformed --param should fail in one line with exit 2, got '
                         f'{p.returncode}: {p.stdout}')
    print(f'install_test: --param window=30s gave the {len(expected_half)} half-minute rows; a bad value, one line')
    shutil.rmtree(root)
    return 0


if __name__ == '__main__':
    sys.exit(main())
