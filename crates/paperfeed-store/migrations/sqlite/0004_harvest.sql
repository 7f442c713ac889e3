-- Where each live source's harvest stands (an OAI-PMH resumption token, an arXiv API offset,
-- the last day mirrored), written in the same transaction as the papers of the page it
-- follows: a harvest killed mid-way resumes from the last committed page, never losing or
-- repeating one. `source` is a key chosen by the caller (source, endpoint, set or query).
create table harvest_positions (
    source      text primary key,
    -- Where an unfinished harvest goes on; opaque to the store. Null: none in flight.
    cursor      text,
    -- The last day a finished harvest covered.
    last_day    text,
    updated_at  text not null
) strict;
