'use strict';

// Output fields of the triggers, in Zapier's flattened notation (a__b for nested keys,
// a[]b for a key of the objects in list a). test/app.test.js checks that these describe
// every field of each trigger's sample, and nothing that is not in it.

// The Event envelope every hook delivery and sample has (docs/architecture.md §2).
const envelope = [
  { key: 'id', label: 'Event ID', type: 'string' },
  { key: 'object', label: 'Object (always "Event")', type: 'string' },
  { key: 'name', label: 'Event Name', type: 'string' },
  { key: 'workspaceId', label: 'Workspace ID', type: 'string' },
  { key: 'createdAt', label: 'Event Created At', type: 'datetime' },
  { key: 'dataType', label: 'Data Type', type: 'string' },
];

// The data of each data type in the catalog.
const byDataType = {
  Message: [
    { key: 'data__id', label: 'Message ID', type: 'string' },
    { key: 'data__object', label: 'Message Object (always "Message")', type: 'string' },
    { key: 'data__workspaceId', label: 'Message Workspace ID', type: 'string' },
    { key: 'data__conversationId', label: 'Conversation ID', type: 'string' },
    { key: 'data__communicationType', label: 'Communication Type (sms or mms)', type: 'string' },
    { key: 'data__direction', label: 'Direction (always "inbound")', type: 'string' },
    { key: 'data__from', label: 'From (the sender\'s number, E.164)', type: 'string' },
    { key: 'data__to', label: 'To (numbers; the first is your workspace line)', type: 'string', list: true },
    { key: 'data__body', label: 'Message Text', type: 'string' },
    { key: 'data__media[]url', label: 'Media URL', type: 'string' },
    { key: 'data__media[]contentType', label: 'Media Content Type', type: 'string' },
    { key: 'data__contactId', label: 'Contact ID (empty when the sender is not a saved contact)', type: 'string' },
    { key: 'data__createdAt', label: 'Message Received At', type: 'datetime' },
  ],
  TestEvent: [{ key: 'data__message', label: 'Test Message', type: 'string' }],
};

const outputFields = (dataType) => {
  const data = byDataType[dataType];
  if (!data) {
    throw new Error(`lib/fields.js describes no output fields for data type ${dataType}; add them to byDataType`);
  }
  return [...envelope, ...data];
};

module.exports = { outputFields };
