"""The diff/plan stage: compare what Git declares with what is live, as a Plan.

Pure: no I/O and no other stage is imported. The engine calls
:func:`gitward.diff.planning.build` with options from
:mod:`gitward.diff.base`; the edges print Plans through
:mod:`gitward.diff.reports` and manifests through
:func:`gitward.diff.masking.mask_object`.

Modules: ``base`` (PlanOptions, IgnoreRule), ``planning`` (the entry point),
``normalising`` (server-set fields), ``ignoring`` (ignoreDifferences),
``comparing`` (field-level diff), ``masking`` (Secret values), ``ordering``
(phases, waves, kinds), ``reports`` (text and JSON views).
"""
