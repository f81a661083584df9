"""initsup's control floor: the control socket (server, connection), the commands of
`initsup ctl` (commands) and the API every front end calls (api).

Light on purpose: importing the package imports nothing; supervisor mode imports
initsup.control.server when it starts serving.
"""
