"""What makes the agent reconcile an Application, one module per trigger.

* ``roots``: the app-of-apps root; adds, updates and removes Applications;
* ``polling``: one poller per repository URL (Git, Helm repository, OCI chart);
  queues Applications whose ref moved or whose range allows a newer chart;
* ``pushes``: push webhooks, the same at once;
* ``watches``: one watch per kind per target; queues the owner of a changed object;
* ``resyncing``: queues Applications whose last full reconcile is older than
  their ``syncPolicy.interval``;
* ``images``: image policies that commit a new tag, then fetch at once;
* ``charts``: chart policies that commit a new chart version, then fetch at once.

Triggers never call each other: they only add to the work queue
(``Context.queue``). ``engine.loop`` starts them and wires what one's result
means for another (a newly declared repository gets a poller).
"""
