"""Tests of the evaluation's SQLite tokenizer and effect judgement:
`python3 -m unittest eval.test_sqlshape`."""

import unittest

from . import sqlshape
from .sqlshape import COSMETIC, EFFECTIVE, FAILED, NO_EFFECT, NOT_RUN, TEMPLATES


def products(value: str) -> str:
    return TEMPLATES["/products"].format(value)


def product(value: str) -> str:
    return TEMPLATES["/product"].format(value)


def sorted_by(value: str) -> str:
    return TEMPLATES["/products/sorted"].format(value)


def login(username: str, password: str) -> str:
    return TEMPLATES["/login"].format(username, password)


class Tokenizer(unittest.TestCase):
    def kinds(self, sql: str) -> list[tuple[str, str]]:
        return [(t.kind, t.text) for t in sqlshape.tokenize(sql)]

    def test_strings_keep_doubled_quotes(self):
        self.assertEqual(self.kinds("'O''Brien'"), [("string", "'O''Brien'")])

    def test_unterminated_literals_and_comments_are_marked(self):
        tokens = sqlshape.tokenize("'abc /* x")
        self.assertFalse(tokens[0].terminated)
        self.assertFalse(sqlshape.tokenize("1 /* open")[1].terminated)

    def test_operators_take_the_longest_match(self):
        self.assertEqual([t.text for t in sqlshape.tokenize("a->>b||c<>d")],
                         ["a", "->>", "b", "||", "c", "<>", "d"])

    def test_numbers(self):
        for text in ("1", "1.5", ".5", "1e10", "0x1F", "1_000"):
            self.assertEqual(self.kinds(text), [("number", text)], text)
        self.assertEqual(self.kinds("1abc"), [("illegal", "1abc")])

    def test_a_nul_ends_the_text(self):
        self.assertEqual(self.kinds("'a\0' OR 1"), [("string", "'a")])
        self.assertFalse(sqlshape.tokenize("'a\0' OR 1")[0].terminated)

    def test_quoted_names_and_blobs(self):
        self.assertEqual(self.kinds('"x" [y] `z` X\'00\''),
                         [("quoted", '"x"'), ("quoted", "[y]"), ("quoted", "`z`"),
                          ("blob", "X'00'")])

    def test_keywords_and_names(self):
        self.assertEqual(self.kinds("select Name"), [("keyword", "select"), ("name", "Name")])


class Effect(unittest.TestCase):
    def test_values_have_no_effect(self):
        self.assertEqual(sqlshape.effect("/products", products("1 UNION SELECT 1"), True),
                         NO_EFFECT)
        self.assertEqual(sqlshape.effect("/products", products("O''Brien"), True), NO_EFFECT)
        for value in ("1", "-1", "1.5", "+2", "0x10"):
            self.assertEqual(sqlshape.effect("/product", product(value), True), NO_EFFECT, value)
        self.assertEqual(sqlshape.effect("/products/sorted",
                                         sorted_by("name DESC, 2 NULLS LAST"), True), NO_EFFECT)
        self.assertEqual(sqlshape.effect("/login", login("bob", "x"), True), NO_EFFECT)

    def test_structure_that_ran_is_effective(self):
        self.assertEqual(sqlshape.effect("/products", products("x' OR '1'='1"), True), EFFECTIVE)
        self.assertEqual(sqlshape.effect("/product", product("id"), True), EFFECTIVE)
        self.assertEqual(sqlshape.effect("/product", product("2-1"), True), EFFECTIVE)
        self.assertEqual(sqlshape.effect("/products/sorted", sorted_by("(SELECT 1)"), True),
                         EFFECTIVE)
        # The password check is gone.
        self.assertEqual(sqlshape.effect("/login", login("admin'--", "x"), True), EFFECTIVE)

    def test_double_quotes_that_name_no_column_are_strings(self):
        self.assertEqual(sqlshape.effect("/product", product('" or "" "'), True), NO_EFFECT)
        self.assertEqual(sqlshape.effect("/products/sorted", sorted_by('"-"'), True), NO_EFFECT)
        self.assertEqual(sqlshape.effect("/product", product('"id"'), True), EFFECTIVE)

    def test_column_references_in_order_by_have_no_effect(self):
        for value in ('"price" DESC', "products.price", "[id]", "`id`", "name, products.id ASC"):
            self.assertEqual(sqlshape.effect("/products/sorted", sorted_by(value), True),
                             NO_EFFECT, value)
        for value in ("price COLLATE NOCASE", "-price", "id LIMIT 1", "products.", "(price)"):
            self.assertNotEqual(sqlshape.effect("/products/sorted", sorted_by(value), True),
                                NO_EFFECT, value)

    def test_literal_keywords_are_values(self):
        for value in ("null", "NULL", "true", "current_date"):
            self.assertEqual(sqlshape.effect("/product", product(value), True), NO_EFFECT, value)

    def test_refused_statements_failed(self):
        self.assertEqual(sqlshape.effect("/products", products("O'Brien"), False), FAILED)

    def test_comments_alone_are_cosmetic(self):
        self.assertEqual(sqlshape.effect("/products", products("books'--"), True), COSMETIC)
        self.assertEqual(sqlshape.effect("/products/sorted",
                                         "SELECT id, name, category, price FROM products "
                                         "ORDER BY id;", True), COSMETIC)

    def test_nothing_ran(self):
        self.assertEqual(sqlshape.effect("/product", None, False), NOT_RUN)


class Data(unittest.TestCase):
    def test_only_writes_change_data(self):
        self.assertTrue(sqlshape.changes_data(product("1; DELETE FROM reviews")))
        self.assertTrue(sqlshape.changes_data("SELECT 1; ATTACH 'x' AS y"))
        self.assertFalse(sqlshape.changes_data(product("1; SELECT 2")))
        self.assertFalse(sqlshape.changes_data(product("1; -- x")))

    def test_what_was_added(self):
        cases = [
            ("/product", "1; DROP TABLE x", "stacked statement"),
            ("/product", "1 UNION SELECT 1,2,3,4", "UNION"),
            ("/products", "x' OR 'a'='a", "boolean condition"),
            ("/products", "foo' and (1+2)=3--", "boolean condition"),
            ("/login", "foo' and (1+2)=3--", "boolean condition"),
            ("/products", "x' and like('a','a')--", "function call"),
            ("/product", "id", "column name"),
            ("/product", "2-1", "operator"),
            ("/products/sorted", "id LIMIT 1", "clause"),
            ("/login", "admin'--", "comment"),
        ]
        for endpoint, payload, label in cases:
            self.assertEqual(sqlshape.added(endpoint, payload), label, payload)

if __name__ == "__main__":
    unittest.main()
