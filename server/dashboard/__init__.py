"""The dashboard (驾驶舱): per-unit figures rolled up over the subtree, charts, exports, the evaluation table."""
