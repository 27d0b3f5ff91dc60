"""Administration: Scalelite's rake tasks (§7) as commands, shared by the AdminFunction (and so the `scalelite`
CLI) and the admin JSON API (`/scalelite/api`).

One function per command of the CONVENTIONS.md table (`servers`, `sync`, `meetings`); `registry.dispatch` validates
a command's arguments and runs it. Every command validates all of its input before its first write, so a rejected
command changes nothing. Errors the operator must see are `errors.AdminError` (invalid input) and its subclasses
`AdminNotFound`, `AdminConflict` (the command would destroy something: repeat it with `force`) and
`AdminUpstreamError`; the adapters map them to their statuses.
"""
