-- Named leases for work that must run on one node (or process) at a time, such as periodic
-- jobs: held by `holder` until `until`, free once that passes, so a dead holder's lease runs
-- out by itself.
create table leases (
    name    text primary key,
    holder  text not null,
    until   text not null
) strict;
