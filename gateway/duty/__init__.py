"""Who is on duty and when the team is open.

Holds business time (`businesstime`), the business calendar file and the lab's holidays
(`business_config`, `holidays_calendar`), the duty schedule, its file and ICS feed (`schedule`,
`schedule_file`, `ics`), the Primary's temporary delegations and their effect on the schedule
(`delegation`), what `oncall` and `schedule check` print (`oncall`), and loading both from the
configuration (`load`). Pure except the file loaders. May import `gateway.config` and the base
modules; never `inbound`, `outbound` or anything above them.
"""
