#!/usr/bin/env python3
"""Tests for scripts/bench-peers.

  bench_peers_test.py SCRIPT --unit          the row comparison and the command line (fast)
  bench_peers_test.py SCRIPT --run KAPPA     q0 and q5 on 20 000 events on Kappa, Flink and
                                             Kafka Streams: the rows must agree (about 1 min);
                                             and Flink on a bad line fails with one line

Exits 77 (ctest: skipped) when --run finds no java or mvn.
"""
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SCRIPT = None
KAPPA = None


def load_script():
    loader = importlib.machinery.SourceFileLoader("bench_peers", SCRIPT)
    spec = importlib.util.spec_from_loader("bench_peers", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.bp = load_script()

    def rows(self, *lines):
        return [self.bp.canonical(line, "test") for line in lines]

    def test_numbers_agree_whatever_their_spelling(self):
        self.assertEqual(self.rows('{"price":908,"extra":"a"}'), self.rows('{"extra":"a","price":908.0}'))
        self.assertEqual(self.rows('{"price":9080000.0}'), self.rows('{"price":9.08E6}'))
        self.assertNotEqual(self.rows('{"price":908.25}'), self.rows('{"price":908.5}'))

    def test_a_missing_row_is_a_mismatch(self):
        kappa = self.rows('{"auction":1,"num":3}', '{"auction":2,"num":3}')
        peer = self.rows('{"auction":1,"num":3}')
        diff = self.bp.compare("q5", kappa, peer, "Flink")
        self.assertIsNotNone(diff)
        self.assertIn("auction=2.000", diff)

    def test_rows_are_a_multiset(self):
        kappa = self.rows('{"auction":1}', '{"auction":1}')
        self.assertIsNotNone(self.bp.compare("q0", kappa, self.rows('{"auction":1}'), "Flink"))
        self.assertIsNone(self.bp.compare("q0", kappa, list(reversed(kappa)), "Flink"))

    def test_a_changed_string_is_a_mismatch(self):
        kappa = self.rows('{"name":"Saul White","id":7}')
        self.assertIsNotNone(self.bp.compare("q3", kappa, self.rows('{"name":"Saul Whit","id":7}'), "Flink"))

    def test_q4_compares_updates_per_category_and_the_last_average(self):
        kappa = self.rows('{"category":10,"avg":1.0}', '{"category":10,"avg":2.0}', '{"category":11,"avg":5}')
        # Two auctions of category 10 closing at the same time, in the other order.
        same = self.rows('{"category":11,"avg":5}', '{"category":10,"avg":3.0}', '{"category":10,"avg":2.0}')
        self.assertIsNone(self.bp.compare("q4", kappa, same, "Flink"))
        other_last = self.rows('{"category":10,"avg":2.0}', '{"category":10,"avg":1.0}', '{"category":11,"avg":5}')
        self.assertIsNotNone(self.bp.compare("q4", kappa, other_last, "Flink"))
        fewer = self.rows('{"category":10,"avg":2.0}', '{"category":11,"avg":5}')
        self.assertIsNotNone(self.bp.compare("q4", kappa, fewer, "Flink"))

    def test_a_line_that_is_not_json_fails(self):
        with self.assertRaises(self.bp.Failure):
            self.bp.canonical("auction=1", "Flink q0")


class CommandLineTest(unittest.TestCase):
    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def test_help_names_the_options(self):
        p = self.run_script("--help")
        self.assertEqual(p.returncode, 0)
        for option in ("--queries", "--events", "--parallelism", "--skip-kstreams"):
            self.assertIn(option, p.stdout)

    def test_an_unknown_query_is_a_one_line_error(self):
        p = self.run_script("--queries", "q0,q6", "--kappa", "/bin/true")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown query 'q6'", p.stderr.strip().splitlines()[-1])

    def test_too_few_events_is_an_error(self):
        p = self.run_script("--events", "10", "--kappa", "/bin/true")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--events must be at least 1000", p.stderr)


def run_peers():
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            print("skipped: %s is not installed" % tool)
            return 77
    with tempfile.TemporaryDirectory(prefix="bench-peers-test-") as work:
        out = os.path.join(work, "figures.json")
        p = subprocess.run([sys.executable, SCRIPT, "--kappa", KAPPA, "--queries", "q0,q5", "--events", "20000",
                            "--skip-hand-loop", "--work", os.path.join(work, "run"), "--json", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print(p.stdout)
        if p.returncode != 0:
            print(p.stderr[-5000:])
            print("FAIL: scripts/bench-peers exited %d" % p.returncode)
            return 1
        with open(out) as f:
            figures = json.load(f)
        got = {r["query"]: r for r in figures["results"]}
        problems = []
        if sorted(got) != ["q0", "q5"]:
            problems.append("queries run: %s" % sorted(got))
        for q, r in got.items():
            for key in ("kappa", "flink", "kstreams"):
                if not r.get(key, 0) > 0:
                    problems.append("%s: no %s figure" % (q, key))
        if got.get("q0", {}).get("rows", 0) < 18000:  # 46 of every 50 events are bids
            problems.append("q0 wrote %s rows, want 18400" % got.get("q0", {}).get("rows"))
        if got.get("q5", {}).get("rows", 0) < 1:
            problems.append("q5 wrote no rows")
        if figures["failures"]:
            problems.extend(figures["failures"])
        problems.extend(bad_input_problems(work))
        for problem in problems:
            print("FAIL: " + problem)
        return 1 if problems else 0


def bad_input_problems(work):
    """A line that is not a Nexmark event stops the Flink job with one line naming it."""
    flink = os.path.join(os.path.dirname(os.path.abspath(SCRIPT)), "..", "bench", "peers", "flink", "target")
    with open(os.path.join(flink, "classpath.txt")) as f:
        cp = ":".join([os.path.join(flink, "classes"),
                       os.path.join(flink, "..", "..", "common", "target", "classes"), f.read().strip()])
    bad = os.path.join(work, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"type":"bid","auction":1000,"bidder":1001,"price":5,"dateTime":1700000000000,"extra":""}\n')
        f.write("auction=1000 price=5\n")
    p = subprocess.run(["java", "-cp", cp, "kappa.peers.flink.NexmarkFlink", "--query", "q0", "--events", bad,
                        "--output", os.path.join(work, "bad-out"), "--checkpoint-dir", os.path.join(work, "bad-ckpt")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    want = "error: nexmark-q0: not a Nexmark event: auction=1000 price=5"
    if p.returncode != 1 or lines != [want]:
        return ["bad input: exit %d, stderr %r; want exit 1 and the one line %r" % (p.returncode, lines[-5:], want)]
    return []


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] not in ("--unit", "--run"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    SCRIPT = sys.argv[1]
    if sys.argv[2] == "--run":
        if len(sys.argv) != 4:
            print("usage: bench_peers_test.py SCRIPT --run KAPPA", file=sys.stderr)
            sys.exit(2)
        KAPPA = sys.argv[3]
        sys.exit(run_peers())
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:])
