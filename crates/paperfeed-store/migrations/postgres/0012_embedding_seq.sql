-- Every stored vector carries the number of the write that stored it (issue 18), from the
-- counter 'embedding_seq': each search node keeps a vector index of its own on disk and reads
-- only the vectors stored after its watermark, instead of every vector at every start. Rows
-- stored before this migration carry 0, so an index built afterwards reads them first.
alter table paper_embeddings add column seq bigint not null default 0;

create index paper_embeddings_by_seq on paper_embeddings (model, seq, paper_id);

insert into store_counters (name, value) values ('embedding_seq', 0);
