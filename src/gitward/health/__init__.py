"""The health stage: how healthy is each live object, and an Application.

Pure: checks read a live object and nothing else. The engine calls
:func:`gitward.health.assessing.assess` (which never raises) and
:func:`gitward.health.assessing.app_health`; plugins register checks on
``assessing.REGISTRY`` (a :class:`gitward.health.base.Registry`).

One module per kind family: ``deployments``, ``statefulsets``,
``daemonsets``, ``replicasets``, ``pods``, ``jobs`` (Job, CronJob),
``services``, ``ingresses``, ``volumes`` (PVC), ``autoscalers`` (HPA),
``namespaces``, ``crds`` (CRD, APIService); ``conditions`` is the generic
Ready/Available check for every other kind.
"""
