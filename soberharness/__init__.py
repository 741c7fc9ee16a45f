"""Validation harness for SoberTube's self-hosted Supabase stack.

The flow is target -> world -> workload -> checker -> report; each step is a
subpackage of its own.
"""

__version__ = "0.1.0"
