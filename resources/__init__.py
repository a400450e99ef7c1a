"""The example networks (examples/*.json and their data files), installed as `netcanvas_resources`.

Data only: read through engine.examples, never imported for code.
"""
