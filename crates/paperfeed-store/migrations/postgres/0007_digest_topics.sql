-- Saved searches as digest topics (issue 16, item 5b): each search says whether its new
-- matches go into the reader's digest (on unless the reader turns it off), and each match
-- remembers which matcher pass found it, so a digest settles exactly the matches it read.

alter table saved_searches add column in_digest boolean not null default true;

-- The matcher's cursor after the pass that recorded the match (its `to`). Passes move the
-- cursor one after another, so once a match found through N is visible, every match found
-- through N or less is too: "settle through N" never touches a match the digest did not see.
-- Matches recorded before this column existed read 0: older than any pass to come.
alter table saved_search_matches add column found_through bigint not null default 0;

-- A digest reads one reader's unsettled matches per search, newest pass first.
create index saved_search_matches_unmailed
    on saved_search_matches (search_id, found_through)
    where mailed_at is null;
