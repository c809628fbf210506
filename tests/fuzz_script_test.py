#!/usr/bin/env python3
"""Tests of scripts/fuzz's command line (no clang or build needed).

  tests/fuzz_script_test.py SCRIPT    SCRIPT is scripts/fuzz

Bad arguments are refused before anything is installed or built, with one line on
stderr and exit code 2; --list names every target that has a seed corpus; --help says
how to run it.
"""
import os
import subprocess
import sys
import unittest

SCRIPT = None


def run(*args):
    return subprocess.run([SCRIPT] + list(args), capture_output=True, text=True, timeout=60)


class FuzzScriptTest(unittest.TestCase):
    def test_bad_arguments_are_one_line_errors(self):
        for args, says in [(["--bogus"], "unknown option --bogus"),
                           (["no_such_fuzzer"], "unknown target 'no_such_fuzzer'"),
                           (["--seconds", "0"], "--seconds needs a positive integer"),
                           (["--seconds", "ten"], "--seconds needs a positive integer")]:
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(says, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_list_names_every_target_with_a_corpus(self):
        r = run("--list")
        self.assertEqual(r.returncode, 0, r.stderr)
        targets = r.stdout.split()
        corpus = os.path.join(os.path.dirname(SCRIPT), "..", "fuzz", "corpus")
        self.assertEqual(sorted(targets), sorted(os.listdir(corpus)))
        self.assertEqual(len(targets), 7)

    def test_help_says_how_to_run_it(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("scripts/fuzz --seconds", r.stdout)


if __name__ == "__main__":
    SCRIPT = os.path.abspath(sys.argv.pop(1))
    unittest.main()
