"""The plan's indicators (SPEC 2.5): new urban jobs, registered unemployment and its rate, new
entrepreneurs and people trained, against the yearly targets."""
