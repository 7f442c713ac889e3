-- Sentence embeddings of each paper's title and abstract, one per model. `text_hash` is the
-- fingerprint of the text that was embedded; a paper whose text changed since (papers.text_hash
-- differs) needs a new vector. Derived data: it can always be recomputed from papers.
alter table papers add column text_hash integer not null default 0;

create table paper_embeddings (
    paper_id   text not null references papers (id) on delete cascade,
    model      text not null,
    text_hash  integer not null,
    vector     blob not null,
    primary key (paper_id, model)
) strict, without rowid;
