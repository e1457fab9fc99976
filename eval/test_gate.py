"""Tests of the targets a run must meet: `python3 -m unittest eval.test_gate`."""

import copy
import unittest

from . import gate, sqlmap
from .runner import PARAMS


def sqlmap_run(system: str, found: bool) -> dict:
    """One sqlmap run's record as `eval.sqlmap.run_all` leaves it, judged."""
    points = {"id": ["boolean-based blind"]} if found else {}
    run = {"system": system, "pass_name": "plain", "target": "/product", "param": "id",
           "status": 0, "console_points": points, "log_points": points,
           "said_not_injectable": not found, "saw_waf": False, "requests": 95,
           "unanswered": 0, "throttled": 0, "forbidden": 0 if system == "off" else 92,
           "forbidden_by": {} if system == "off" else {sqlmap.BLOCKED_INJECTION: 92}}
    run["problems"] = sqlmap.problems(run)
    return run


MET = {
    "attacks": {"counts": {param: {"effective": 2, "effective antibody": 2} for param in PARAMS}},
    "probes": [{"param": "id", "payload": "id", "effect": "effective", "antibody": True,
                "antibody_status": 403}],
    "second_order": {"counts": {"effective": 2, "default reported": 2, "strict blocked": 2}},
    "false_positives": {"examples": {"antibody": [], "waf": []}},
    "sqlmap": {"runs": [sqlmap_run("off", True), sqlmap_run("protect", False),
                        sqlmap_run("waf", True)]},
}


class Targets(unittest.TestCase):
    def results(self) -> dict:
        return copy.deepcopy(MET)

    def test_a_run_that_meets_every_target(self):
        self.assertEqual(gate.misses(MET), [])

    def test_an_effective_payload_let_through(self):
        results = self.results()
        results["attacks"]["counts"]["order"]["effective antibody"] = 1
        self.assertEqual(gate.misses(results), [
            "Antibody let 1 of 2 effective corpus payloads through on `order` "
            "(see missed-antibody.tsv)"])

    def test_a_parameter_no_payload_was_effective_on_is_a_broken_harness(self):
        results = self.results()
        results["attacks"]["counts"]["id"] = {"effective": 0}
        self.assertIn("harness", gate.misses(results)[0])

    def test_a_benign_input_blocked(self):
        results = self.results()
        results["false_positives"]["examples"]["antibody"].append(
            {"set": "fortunes", "target": "/reviews", "payload": "O'Brien", "kind": "sql_injection"})
        self.assertEqual(len(gate.misses(results)), 1)

    def test_sqlmap_through_the_agent_and_not_with_it_off(self):
        results = self.results()
        results["sqlmap"]["runs"] = [sqlmap_run("off", False), sqlmap_run("protect", True)]
        missed = gate.misses(results)
        self.assertEqual(len(missed), 2)
        self.assertIn("did not find `id` injectable with the agent off", missed[0])
        self.assertIn("found `id` injectable through the agent", missed[1])

    def test_sqlmap_through_the_waf_is_a_result_not_a_miss(self):
        self.assertTrue(MET["sqlmap"]["runs"][2]["console_points"])
        self.assertEqual(gate.sqlmap_misses(MET["sqlmap"]), [])

    def test_a_skipped_sqlmap_phase_has_no_runs_to_judge(self):
        self.assertEqual(gate.sqlmap_misses({"skipped": "cannot install sqlmap from PyPI"}), [])


if __name__ == "__main__":
    unittest.main()
