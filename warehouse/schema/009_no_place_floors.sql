-- Each report's narrative floor as last linked: the k-th best cosine among the crimes the
-- no_place rule let it meet (null: it met fewer than k). A night that brings crimes alone
-- holds a report's own top-k to crimes at or above it (transforms/linkage_blocking.py).
-- Rows linked before this migration have none: those reports take their k best of the
-- night's crimes, as before, until they are next linked.

alter table link_record_state add column if not exists no_place_floor double;
