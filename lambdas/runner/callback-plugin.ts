/**
 * The Ansible stdout callback plugin the runner installs in its work folder (kept here as text so that the
 * esbuild bundle of the runner is self-contained). It writes one JSON object per line and flushes each
 * one, so that the runner can split the output per host and stream it to the VM logs as it goes:
 *
 *   {"event":"play","name":…,"task":<vars.im_ctxt_task>,"index":<vars.im_ctxt_play>}
 *   {"event":"task","name":…,"uuid":…}
 *   {"event":"start","host":…,"task":…,"uuid":…}            (a task starts on a host)
 *   {"event":"result","status":"ok|changed|failed|skipped|unreachable","host":…,"task":…,"uuid":…,"ignored":bool,"detail":…}
 *   {"event":"item","status":…,"host":…,"task":…,"uuid":…,"item":…,"detail":…}
 *   {"event":"stats","hosts":{"<host>":{"ok":n,"changed":n,"unreachable":n,"failures":n,"skipped":n,"rescued":n,"ignored":n}}}
 *   {"event":"warning","msg":…}
 *
 * `detail` is Ansible's own result dump (no_log results are censored by Ansible before they get here).
 * `uuid` tells tasks apart: with `strategy: free` every host is at its own task, so a result belongs to
 * the task it names, not to the last task announced.
 */
export const CALLBACK_PLUGIN_NAME = 'im_jsonl';

export const CALLBACK_PLUGIN_SOURCE = `# Written by the IM contextualization runner. One JSON object per line on stdout.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
    name: im_jsonl
    type: stdout
    short_description: JSON lines for the IM contextualization runner
    description:
      - One JSON object per event (play, task, result, item, stats), flushed line by line.
'''

import json
import sys

from ansible.plugins.callback import CallbackBase

MAX_DETAIL = 8000
ITEM_LABEL = 200


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'im_jsonl'

    def _emit(self, **event):
        try:
            line = json.dumps(event, default=str, ensure_ascii=False)
        except Exception as exc:  # never break the play because of the log
            line = json.dumps({'event': 'warning', 'msg': 'unserializable event: %s' % exc})
        sys.stdout.write(line + '\\n')
        sys.stdout.flush()

    def _detail(self, result):
        try:
            text = self._dump_results(result._result, indent=None)
        except Exception:
            text = str(result._result)
        if len(text) > MAX_DETAIL:
            text = text[:MAX_DETAIL] + '...'
        return text

    def _show(self, result):
        action = getattr(result._task, 'action', '') or ''
        return action in ('debug', 'ansible.builtin.debug', 'fail', 'ansible.builtin.fail', 'assert', 'ansible.builtin.assert')

    def _result(self, status, result, ignored=False, with_detail=False):
        event = {
            'event': 'result',
            'status': status,
            'host': result._host.get_name(),
            'task': result._task.get_name().strip(),
            'uuid': result._task._uuid,
        }
        if ignored:
            event['ignored'] = True
        if with_detail or self._show(result):
            event['detail'] = self._detail(result)
        if result._result.get('_ansible_delegated_vars'):
            event['delegated'] = result._result['_ansible_delegated_vars'].get('ansible_host')
        self._emit(**event)

    def _item(self, status, result, with_detail=False):
        label = self._get_item_label(result._result)
        try:
            label = json.dumps(label, default=str, ensure_ascii=False)
        except Exception:
            label = str(label)
        if len(label) > ITEM_LABEL:
            label = label[:ITEM_LABEL] + '...'
        event = {'event': 'item', 'status': status, 'host': result._host.get_name(),
                 'task': result._task.get_name().strip(), 'uuid': result._task._uuid, 'item': label}
        if with_detail or self._show(result):
            event['detail'] = self._detail(result)
        self._emit(**event)

    # --- plays and tasks
    def v2_playbook_on_play_start(self, play):
        variables = getattr(play, 'vars', None) or {}
        task = variables.get('im_ctxt_task') if isinstance(variables, dict) else None
        index = variables.get('im_ctxt_play') if isinstance(variables, dict) else None
        self._emit(event='play', name=(play.get_name() or '').strip(), task=task, index=index)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit(event='task', name=task.get_name().strip(), uuid=task._uuid)

    def v2_playbook_on_cleanup_task_start(self, task):
        self._emit(event='task', name=task.get_name().strip(), uuid=task._uuid)

    def v2_playbook_on_handler_task_start(self, task):
        self._emit(event='task', name=task.get_name().strip(), uuid=task._uuid, handler=True)

    def v2_playbook_on_no_hosts_matched(self):
        self._emit(event='warning', msg='No hosts matched')

    # --- results
    def v2_runner_on_start(self, host, task):
        self._emit(event='start', host=host.get_name(), task=task.get_name().strip(), uuid=task._uuid)

    def v2_runner_on_ok(self, result):
        self._result('changed' if result._result.get('changed') else 'ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result, ignored=ignore_errors, with_detail=True)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result, with_detail=True)

    def v2_runner_item_on_ok(self, result):
        self._item('changed' if result._result.get('changed') else 'ok', result)

    def v2_runner_item_on_failed(self, result):
        self._item('failed', result, with_detail=True)

    def v2_runner_item_on_skipped(self, result):
        self._item('skipped', result)

    def v2_runner_retry(self, result):
        event = {'event': 'retry', 'host': result._host.get_name(), 'task': result._task.get_name().strip(),
                 'uuid': result._task._uuid, 'attempt': result._result.get('attempts'), 'retries': result._result.get('retries')}
        self._emit(**event)

    # --- end
    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed.keys()):
            hosts[host] = stats.summarize(host)
        self._emit(event='stats', hosts=hosts)
`;
