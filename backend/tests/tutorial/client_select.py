# The tutorial's client for the select server (IO多路复用 客户端), indentation restored.
# Only the port differs: the test replaces 8081 with the model's port.
from socket import *
import select
client = socket(AF_INET,SOCK_STREAM)
client.connect(('127.0.0.1',8081))
while True:
    cmd = input('>>:')
    client.send(cmd.encode('utf-8'))
    data = client.recv(1024)
    print('接收的是:%s'%data.decode('utf-8'))
client.close()
