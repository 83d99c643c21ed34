"""Reporting: everything a person or a program reads after a run, rendered from one results model.

`results` builds the results.json document (the published contract); every other module here reads that
document and nothing else, so no page can disagree with it: `findings` groups failures and warnings by
likely cause (`hints` names causes and fixes), `html` renders report.html (with `grid`'s picture and
`evidence_html`'s folded evidence), `terminal` the end of a run, `compare` several runs side by side, and
`junit` decides what a JUnit consumer sees of a case (a known failure under --baseline is not red).
"""
