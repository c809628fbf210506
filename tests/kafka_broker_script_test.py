#!/usr/bin/env python3
"""Tests of scripts/kafka-broker itself, on a single-node cluster of its own.

  tests/kafka_broker_script_test.py SCRIPT    SCRIPT is scripts/kafka-broker

What the Kafka tests rely on: a cluster left running by a killed test is stopped by the
next `start` in the same directory; `bootstrap` prints the address `start` printed;
`create-topic` waits for leaders, so `leader` answers at once; `stop` leaves no JVM;
without the jars `start` says in one line to run scripts/setup; and cluster ids never
start with '-', which kafka-storage would take for an option.
"""
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SCRIPT = None


def run(*args, env=None, timeout=180):
    return subprocess.run([SCRIPT] + list(args), capture_output=True, text=True, env=env, timeout=timeout)


def broker_jvms(d):
    """Pids of the Kafka JVMs whose server.properties lie under d."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline and any(a.startswith(d.encode() + b"/") for a in cmdline):
            found.append(int(entry))
    return found


def answers(bootstrap):
    """True when a broker at bootstrap answers a metadata request."""
    out = subprocess.run(["kcat", "-L", "-J", "-b", bootstrap, "-m", "5"], capture_output=True, timeout=20)
    return out.returncode == 0 and len(json.loads(out.stdout).get("brokers", [])) == 1


def node_pids(d):
    with open(os.path.join(d, "cluster.json")) as f:
        return [n["pid"] for n in json.load(f)["nodes"]]


class KafkaBrokerScriptTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kafka-broker-test-")

    def tearDown(self):
        run("stop", self.dir, "--wait", "5")
        for pid in broker_jvms(self.dir):  # a failed test must not leave a JVM behind
            os.kill(pid, 9)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        out = run("start", self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip().splitlines()[-1]

    def test_lifecycle(self):
        first = self.start()
        [first_pid] = node_pids(self.dir)
        self.assertEqual(broker_jvms(self.dir), [first_pid])

        # The script returned and its JVM runs on, as after a test killed mid-run: the next
        # start in this directory stops it and brings up a new cluster that answers.
        second = self.start()
        [second_pid] = node_pids(self.dir)
        self.assertNotEqual(second_pid, first_pid)
        self.assertEqual(broker_jvms(self.dir), [second_pid])
        self.assertTrue(answers(second))

        out = run("bootstrap", self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), second)
        with open(os.path.join(self.dir, "bootstrap")) as f:
            self.assertEqual(f.read().strip(), second)

        out = run("create-topic", self.dir, "script-test", "3", "--config", "retention.ms=600000")
        self.assertEqual(out.returncode, 0, out.stderr)
        for partition in range(3):
            out = run("leader", self.dir, "script-test", str(partition))
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), "1")
        out = run("leader", self.dir, "script-test", "3")
        self.assertEqual(out.returncode, 1)
        self.assertIn("no partition 3 of topic script-test", out.stderr)

        out = run("stop", self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(broker_jvms(self.dir), [])
        self.assertFalse(answers(second))

    def test_missing_jars_say_run_setup(self):
        empty = os.path.join(self.dir, "empty-kafka-home")
        os.makedirs(empty)
        env = dict(os.environ, KAPPA_KAFKA_HOME=empty)
        out = run("start", os.path.join(self.dir, "cluster"), env=env)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stdout, "")
        lines = out.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, out.stderr)
        self.assertIn("run scripts/setup", lines[0])
        self.assertIn(empty, lines[0])
        self.assertEqual(broker_jvms(self.dir), [])

    def test_commands_on_a_directory_without_a_cluster(self):
        out = run("bootstrap", self.dir)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stderr.strip(), "kafka-broker: no cluster in %s: start one with "
                         "scripts/kafka-broker start %s" % (self.dir, self.dir))
        out = run("stop", self.dir)  # nothing to stop is not an error: cleanup may run twice
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_cluster_ids_never_start_with_a_dash(self):
        # kafka-storage format -t -xyz... fails ("expected one argument"): 1 start in 64 did.
        loader = importlib.machinery.SourceFileLoader("kafka_broker", SCRIPT)
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader("kafka_broker", loader))
        loader.exec_module(module)
        ids = [module.new_cluster_id() for _ in range(5000)]
        self.assertEqual([i for i in ids if i.startswith("-")], [])
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual({len(i) for i in ids}, {22})


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: kafka_broker_script_test.py SCRIPT [unittest args]")
    SCRIPT = os.path.abspath(sys.argv.pop(1))
    unittest.main()
