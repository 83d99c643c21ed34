"""The judging: what turns exchanges into verdicts.

Verdicts and levels (verdicts), the requirement and case catalogs (requirements, catalog), the fault table
with its mutations and strategies (faults, mutations, strategies, near_misses, fuzzing), the checks and
negatives with their controls (checks, negatives), the nonce, code-binding, key-binding and exactness judging
(nonces, code_binding, key_binding, exactness, server_values, setup_problems), the session the cases share
(session) and the happy path tried before them (preflight). It imports the client and the base, never the
reporting or the running.
"""
