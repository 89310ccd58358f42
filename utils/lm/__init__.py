"""Stage 4, the text models: T5 and GPT-2 experiments by name, trained on the comment data,
decoded into comments and scored (``python -m utils train`` and ``evaluate``).

Modules and the names they offer (imported from the module; importing this package loads
neither torch nor transformers):

- ``registry``: ``Experiment``, ``get_experiment``, the profile sizes of every experiment;
- ``training``: ``train`` (one function for every experiment), ``build_model``, ``training_arguments``;
- ``data``: local tokenizers, the tokenised pairs (🤗 datasets, cached), the collator;
- ``decoding``: ``Decoding`` and the named decodings (greedy, beam, sample, rerank, guided);
- ``generate``: ``CommentGenerator`` (T5 and GPT-2, batched, seeded) and the label guide;
- ``openvino_steps``: ``run_steps_on_openvino``, the T5's decoding steps on OpenVINO (the CPU default);
- ``metrics``: the reference's metrics, proper ones, ``evaluate_model`` and the ``evaluate`` command;
- ``sweep``: the ``cpu`` recipe sweep and its final stage;
- ``report``: what the LM notebooks show (runs of a family, loss plots, sample tables);
- ``trained``: ``resolve_comment_model``, which trained model the pipeline uses.
"""
