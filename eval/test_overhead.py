"""The instruction counts: read from callgrind's dump, reported against the agent off."""

import tempfile
import unittest
from pathlib import Path

from eval import overhead, report


class CallgrindCounts(unittest.TestCase):
    def test_the_total_is_the_dump_summary(self):
        with tempfile.TemporaryDirectory() as folder:
            dump = Path(folder) / "protect.out.1"
            dump.write_text("# callgrind format\nversion: 1\nevents: Ir\nsummary: 160438000\n"
                            "fn=(1) main\n12 40\ntotals: 160438000\n")
            self.assertEqual(overhead._callgrind_total(dump), 160438000)

    def test_a_dump_without_a_summary_is_an_error_not_zero(self):
        with tempfile.TemporaryDirectory() as folder:
            dump = Path(folder) / "off.out.1"
            dump.write_text("# callgrind format\nevents: Ir\n")
            with self.assertRaises(RuntimeError):
                overhead._callgrind_total(dump)

    def test_each_setup_is_reported_as_a_ratio_to_the_agent_off(self):
        lines = report.instruction_lines(
            {"requests": 2000, "off": 76000.0, "monitor": 79040.0, "protect": 79800.0})
        self.assertIn("| agent off | 76,000 | 1.000 |", lines)
        self.assertIn("| monitor | 79,040 | 1.040 |", lines)
        self.assertIn("| protect | 79,800 | 1.050 |", lines)

    def test_a_count_not_taken_says_why(self):
        lines = report.instruction_lines({"skipped": "valgrind is not installed"})
        self.assertIn("Not counted: valgrind is not installed.", lines)


if __name__ == "__main__":
    unittest.main()
