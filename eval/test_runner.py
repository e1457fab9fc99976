"""The runner reads vulnshop's trace: only statements built from input are judged."""

import unittest

from eval import runner, sqlshape


class VulnerableLines(unittest.TestCase):
    def test_only_statements_built_from_input_are_kept(self):
        fixed = next(iter(sqlshape.FIXED_STATEMENTS))
        built = {"sink": "sql", "sql": "SELECT 1 WHERE x = 'a'", "ok": True}
        lines = [
            built,
            {"sink": "sql", "sql": fixed, "ok": True},
            {"sink": "redirect", "endpoint": "/reviews", "location": "/reviews?product_id=1"},
            {"sink": "file", "endpoint": "/docs", "path": "/tmp/docs/a.txt", "ok": True},
            {"sink": "command", "endpoint": "/tools/lookup", "argv": ["sh"], "ok": True},
        ]
        self.assertEqual(runner.vulnerable_lines(lines), [built])


if __name__ == "__main__":
    unittest.main()
