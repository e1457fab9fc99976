"""The evaluation of Antibody beside a signature WAF on vulnshop; run it with
`scripts/evaluate` (or `python3 -m eval`)."""
