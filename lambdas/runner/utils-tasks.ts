/**
 * Task files that IM's contextualization ships next to the playbooks (`utils/tasks/…`) and that the
 * TOSCA translator's recipes include: the OSCAR service of a FaaS function hosted on an OSCAR cluster,
 * created (or updated) and deleted through the OSCAR REST API from the cluster's front end.
 */
export const UTILS_TASKS: Record<string, string> = {
  'oscar_function.yml': `---
- name: Create the OSCAR service
  uri:
    url: "{{ oscar_endpoint }}/system/services"
    method: POST
    url_username: "{{ oscar_username }}"
    url_password: "{{ oscar_password }}"
    force_basic_auth: true
    body: "{{ oscar_service_json }}"
    body_format: json
    validate_certs: false
    status_code: [200, 201, 409]
  register: im_oscar_create
  retries: 10
  delay: 30
  until: im_oscar_create.status in [200, 201, 409]

- name: Update the OSCAR service (it already existed)
  uri:
    url: "{{ oscar_endpoint }}/system/services"
    method: PUT
    url_username: "{{ oscar_username }}"
    url_password: "{{ oscar_password }}"
    force_basic_auth: true
    body: "{{ oscar_service_json }}"
    body_format: json
    validate_certs: false
    status_code: [200, 204]
  when: im_oscar_create.status == 409
`,
  'del_oscar_function.yml': `---
- name: Delete the OSCAR service
  uri:
    url: "{{ oscar_endpoint }}/system/services/{{ oscar_service_name }}"
    method: DELETE
    url_username: "{{ oscar_username }}"
    url_password: "{{ oscar_password }}"
    force_basic_auth: true
    validate_certs: false
    status_code: [200, 204, 404]
`,
};
