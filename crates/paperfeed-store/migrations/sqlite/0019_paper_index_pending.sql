-- The paper index (`paper_keys`) of a big batch is written after it, sorted, in one pass
-- (`paperfeed_store::Store::catch_up_paper_index`): written paper by paper, each batch of an
-- arXiv-sized ingest rewrote pages all over the index, and ingest ran at a tenth of its speed.
-- The counter is the change_seq after which papers may lack their index rows, or -1 when none
-- may: every paper stored so far was indexed as it was written.
insert into store_counters (name, value) values ('paper_index_pending_after', -1);
